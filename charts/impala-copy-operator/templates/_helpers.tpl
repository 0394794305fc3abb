{{/* Names, labels and image references shared by the templates. */}}

{{- define "impala-copy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "impala-copy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "impala-copy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "impala-copy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "impala-copy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "impala-copy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: impala-copy
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "impala-copy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "impala-copy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator's image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "impala-copy.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The copy Job pods' image: job.image, each part defaulting to the operator's. */}}
{{- define "impala-copy.jobImage" -}}
{{- $repository := .Values.job.image.repository | default .Values.image.repository }}
{{- $tag := .Values.job.image.tag | default .Values.image.tag | default .Chart.AppVersion }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}

{{/* Names of the Job pods' pull secrets, comma-separated. */}}
{{- define "impala-copy.jobPullSecrets" -}}
{{- $secrets := .Values.job.imagePullSecrets | default .Values.imagePullSecrets }}
{{- $names := list }}
{{- range $secrets }}{{ $names = append $names .name }}{{ end }}
{{- join "," $names }}
{{- end }}

{{/*
The rules the operator needs, as declared in operator/impala_copy/controller/core/kube.py (API_ACCESS);
a test compares the rendered rules with that declaration. The cluster rules (listing namespaces and
CRDs) are needed only when the operator watches every namespace: with plain namespace names it
neither lists namespaces nor discovers CRDs, so a namespaced install renders Roles only.
No rule names Secrets: the operator never reads one (Job pods get them through secretKeyRef and
volumes). ConfigMaps: read to check that referenced CA ConfigMaps exist; written only for the
LookupActivity results the operator owns (RBAC cannot narrow this by label: see configMapGuard).
*/}}
{{- define "impala-copy.namespacedRules" -}}
- apiGroups: ["impalacopy.io"]
  resources:
    - impalalinkedservices
    - impaladatasets
    - amazons3linkedservices
    - azureblobstoragelinkedservices
    - postgresqllinkedservices
    - parquetdatasets
    - delimitedtextdatasets
    - jsondatasets
    - postgresqltabledatasets
    - copyactivities
    - lookupactivities
  verbs: ["get", "list", "watch"]
- apiGroups: ["impalacopy.io"]
  resources:
    - impalalinkedservices/status
    - impaladatasets/status
    - amazons3linkedservices/status
    - azureblobstoragelinkedservices/status
    - postgresqllinkedservices/status
    - parquetdatasets/status
    - delimitedtextdatasets/status
    - jsondatasets/status
    - postgresqltabledatasets/status
    - copyactivities/status
    - lookupactivities/status
  verbs: ["patch"]
- apiGroups: ["impalacopy.io"]
  resources:
    - copyactivities/finalizers
    - lookupactivities/finalizers
    - impalalinkedservices/finalizers
  verbs: ["update"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["list", "watch", "create", "delete"]
- apiGroups: [""]
  resources: ["pods", "persistentvolumeclaims"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

{{- define "impala-copy.clusterRules" -}}
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["list", "watch"]
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- end }}

{{/* Leader election: read, create and renew the Lease, in the operator's namespace only (a Role). */}}
{{- define "impala-copy.leaseRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "patch"]
{{- end }}
