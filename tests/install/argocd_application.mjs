// Validates Argo CD Application objects against the schema of @kubernetes-models/argo-cd (validators
// generated from Argo CD's API types). Usage: node argocd_application.mjs <node_modules dir> < objects.json
// In: a JSON array of objects on stdin. Out: a JSON array of {name, ok, error} on stdout.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const model = join(modules, "@kubernetes-models", "argo-cd", "argoproj.io", "v1alpha1", "Application.js");
const { Application } = await import(pathToFileURL(model).href);
const objects = JSON.parse(readFileSync(0, "utf8"));
const results = objects.map((obj) => {
  try {
    new Application(obj).validate();
    return { name: obj?.metadata?.name ?? null, ok: true, error: null };
  } catch (err) {
    return { name: obj?.metadata?.name ?? null, ok: false, error: String(err?.message ?? err) };
  }
});
process.stdout.write(JSON.stringify(results));
