{{/* Names are fixed: the operator is one per cluster (cluster-scoped CRDs, roles and matrix), and its Lease,
Secret and ConfigMap names are the operator's defaults. */}}
{{- define "eo.name" -}}eligibility-operator{{- end -}}

{{- define "eo.selectorLabels" -}}
app.kubernetes.io/name: eligibility-operator
{{- end -}}

{{/* The labels deploy/base sets, plus Helm's. */}}
{{- define "eo.labels" -}}
{{ include "eo.selectorLabels" . }}
app.kubernetes.io/part-of: eligibility-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "eo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}eligibility-operator{{- else -}}{{ required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "eo.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The webhook's Service and the names its certificate must carry. */}}
{{- define "eo.webhookService" -}}eligibility-operator-webhook{{- end -}}
