"""The Kubernetes Pod Security Standards, "baseline" and "restricted" levels, as checks on a pod spec.

`restricted_violations(pod_spec)` returns one message per rule the pod breaks (empty: the pod would
be admitted in a namespace labelled pod-security.kubernetes.io/enforce=restricted). The rules follow
https://kubernetes.io/docs/concepts/security/pod-security-standards/ (policy version latest).
"""

from __future__ import annotations

from typing import Any

BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def _containers(pod: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{field}[{c.get('name')}]", c)
        for field in ("initContainers", "containers", "ephemeralContainers")
        for c in pod.get(field) or []
    ]


def baseline_violations(pod: dict[str, Any]) -> list[str]:
    out = []
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            out.append(f"{field} must not be true")
    psc = pod.get("securityContext") or {}
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("securityContext.windowsOptions.hostProcess must not be true")
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"sysctl {sysctl.get('name')} is not a safe sysctl")
    for volume in pod.get("volumes") or []:
        if "hostPath" in volume:
            out.append(f"volume {volume.get('name')} is a hostPath")
    for where, sc in [
        ("securityContext", psc),
        *((f"{n}.securityContext", c.get("securityContext") or {}) for n, c in _containers(pod)),
    ]:
        se = sc.get("seLinuxOptions") or {}
        if se.get("type", "") not in SELINUX_TYPES or se.get("user") or se.get("role"):
            out.append(f"{where}.seLinuxOptions is not allowed")
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            out.append(f"{where}.seccompProfile must not be Unconfined")
        if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            out.append(f"{where}.appArmorProfile must not be Unconfined")
    for name, c in _containers(pod):
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"{name} is privileged")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{name} sets procMount")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"{name} is a hostProcess container")
        for cap in (sc.get("capabilities") or {}).get("add") or []:
            if cap not in BASELINE_CAPABILITIES:
                out.append(f"{name} adds capability {cap}")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                out.append(f"{name} uses hostPort {port['hostPort']}")
    return out


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    out = baseline_violations(pod)
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            out.append(f"volume {volume.get('name')} has a type outside {sorted(RESTRICTED_VOLUME_TYPES)}")
    psc = pod.get("securityContext") or {}
    if psc.get("runAsUser") == 0:
        out.append("securityContext.runAsUser must not be 0")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    for name, c in _containers(pod):
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}.securityContext.allowPrivilegeEscalation must be false")
        if not (
            sc.get("runAsNonRoot") is True
            or (psc.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is not False)
        ):
            out.append(f"{name} must run as non-root (runAsNonRoot true on the pod or the container)")
        if sc.get("runAsUser") == 0:
            out.append(f"{name}.securityContext.runAsUser must not be 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name} needs seccompProfile RuntimeDefault or Localhost (pod or container)")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{name} must drop capability ALL")
        for cap in caps.get("add") or []:
            if cap != "NET_BIND_SERVICE":
                out.append(f"{name} may add only NET_BIND_SERVICE, not {cap}")
    return out
