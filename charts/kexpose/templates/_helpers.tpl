{{- define "kexpose.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kexpose.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "kexpose.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "kexpose.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "kexpose.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kexpose.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kexpose.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kexpose.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Whether cert-manager issues the serving certificate (tls.source). */}}
{{- define "kexpose.certManager" -}}
{{- if eq .Values.tls.source "certManager" }}true{{ end }}
{{- end }}

{{/* The Secret holding the serving certificate. */}}
{{- define "kexpose.tlsSecret" -}}
{{- if include "kexpose.certManager" . }}
{{- default (printf "%s-tls" (include "kexpose.fullname" .)) .Values.tls.secretName }}
{{- else }}
{{- required "tls.secretName is required when tls.source is secret" .Values.tls.secretName }}
{{- end }}
{{- end }}

{{/* Annotations and caBundle wiring shared by both webhook configurations. */}}
{{- define "kexpose.webhookAnnotations" -}}
{{- if include "kexpose.certManager" . }}
cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "kexpose.fullname" .) }}
{{- end }}
{{- end }}

{{- define "kexpose.clientConfig" -}}
service:
  name: {{ include "kexpose.fullname" .root }}
  namespace: {{ .root.Release.Namespace }}
  path: {{ .path }}
  port: {{ .root.Values.service.port }}
{{- if not (include "kexpose.certManager" .root) }}
caBundle: {{ required "tls.caBundle is required when tls.source is secret" .root.Values.tls.caBundle | b64enc }}
{{- end }}
{{- end }}

{{- define "kexpose.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      - kube-system
      - {{ .Release.Namespace }}
      {{- range .Values.webhook.excludeNamespaces }}
      - {{ . }}
      {{- end }}
  {{- with .Values.webhook.namespaceSelectorExpressions }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{- define "kexpose.rules" -}}
- apiGroups: ["gateway.kyma-project.io"]
  apiVersions: ["*"]
  operations: ["CREATE", "UPDATE"]
  resources: ["apirules"]
  scope: Namespaced
{{- end }}

{{/*
Whether the chart runs the webhook: enforcement webhook or both. With
enforcement policy the API server enforces the exported admission policies
alone, and no Deployment, Service, certificate or webhook configuration is
created.
*/}}
{{- define "kexpose.webhook" -}}
{{- if ne .Values.enforcement "policy" }}true{{ end }}
{{- end }}
