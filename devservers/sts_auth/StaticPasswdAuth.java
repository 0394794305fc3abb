package sts;

import javax.security.sasl.AuthenticationException;
import org.apache.hive.service.auth.PasswdAuthenticationProvider;

/**
 * A HiveServer2 CUSTOM password authenticator for the local Spark Thrift Server.
 *
 * <p>User "alice" must give the password "secret" (checked for real; override with the system
 * properties sts.user / sts.password). User "bob" is accepted with any password, including the
 * empty one, so that a SASL username-only login (PLAIN without a password) can be tested against
 * the same server. Everyone else is refused.
 */
public class StaticPasswdAuth implements PasswdAuthenticationProvider {
  @Override
  public void Authenticate(String user, String password) throws AuthenticationException {
    String expectedUser = System.getProperty("sts.user", "alice");
    String expectedPassword = System.getProperty("sts.password", "secret");
    String anyPasswordUser = System.getProperty("sts.anyPasswordUser", "bob");
    if (user != null && user.equals(anyPasswordUser)) {
      return;
    }
    if (user == null || !user.equals(expectedUser) || password == null || !password.equals(expectedPassword)) {
      throw new AuthenticationException("bad credentials for user " + user);
    }
  }
}
