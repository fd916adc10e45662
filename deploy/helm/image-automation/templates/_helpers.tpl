{{/* Names and labels shared by every object. */}}

{{- define "image-automation.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "image-automation.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "image-automation.selectorLabels" -}}
app.kubernetes.io/name: {{ include "image-automation.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "image-automation.labels" -}}
{{ include "image-automation.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "image-automation.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret and key holding the PostgreSQL URL; empty when state is not configured. */}}
{{- define "image-automation.stateSecret" -}}
{{- if and .Values.state.url .Values.state.existingSecret -}}
{{- fail "state: give url or existingSecret, not both" -}}
{{- end -}}
{{- if .Values.state.existingSecret -}}
{{- .Values.state.existingSecret -}}
{{- else if .Values.state.url -}}
{{- printf "%s-state" (include "image-automation.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "image-automation.stateKey" -}}
{{- if .Values.state.existingSecret -}}{{ .Values.state.existingSecretKey }}{{- else -}}url{{- end -}}
{{- end -}}

{{- define "image-automation.secretsDir" -}}/var/run/secrets/image-automation{{- end -}}
