{{/* Names: <release>-socle, or the release name when it already says socle. */}}
{{- define "socle.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "socle.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The labels every object carries. */}}
{{- define "socle.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "socle.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: socle
{{- end -}}

{{/* The labels that select every pod of the release. */}}
{{- define "socle.selectorLabels" -}}
app.kubernetes.io/name: {{ include "socle.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* A workload's selector: dict "root" $ "w" $workload. */}}
{{- define "socle.workloadSelector" -}}
{{ include "socle.selectorLabels" .root }}
app.kubernetes.io/component: {{ .w.name }}
{{- end -}}

{{- define "socle.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "socle.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "socle.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "socle.serverSecret" -}}
{{- default (printf "%s-tls" (include "socle.fullname" .)) .Values.tls.serverSecretName -}}
{{- end -}}
{{- define "socle.clientSecret" -}}
{{- default (printf "%s-client-tls" (include "socle.fullname" .)) .Values.tls.clientSecretName -}}
{{- end -}}
{{- define "socle.clientCASecret" -}}
{{- default (include "socle.serverSecret" .) .Values.tls.clientCA.secretName -}}
{{- end -}}

{{- define "socle.cnpgName" -}}
{{- default (printf "%s-db" (include "socle.fullname" .)) .Values.postgresql.cnpg.name -}}
{{- end -}}

{{/* The Secret and key holding SOCLE_DATABASE_URL. */}}
{{- define "socle.dbSecretName" -}}
{{- if eq .Values.postgresql.mode "cnpg" -}}
{{- printf "%s-app" (include "socle.cnpgName" .) -}}
{{- else -}}
{{- required "postgresql.secret.name: the Secret holding the PostgreSQL URL (mode secret)" .Values.postgresql.secret.name -}}
{{- end -}}
{{- end -}}
{{- define "socle.dbSecretKey" -}}
{{- if eq .Values.postgresql.mode "cnpg" -}}uri{{- else -}}{{ .Values.postgresql.secret.key }}{{- end -}}
{{- end -}}

{{- define "socle.publicURL" -}}
{{- default (printf "https://%s" .Values.web.host) .Values.publicURL -}}
{{- end -}}

{{/* The headless Service of a workload (StatefulSet governing service, NATS routes). */}}
{{- define "socle.headless" -}}
{{- printf "%s-%s-headless" (include "socle.fullname" .root) .w.name -}}
{{- end -}}

{{/* nats-route URLs of every StatefulSet pod: the embedded cluster's seeds. */}}
{{- define "socle.natsRoutes" -}}
{{- $root := . -}}
{{- $routes := list -}}
{{- range .Values.workloads -}}
{{- if eq .kind "StatefulSet" -}}
{{- $w := . -}}
{{- range $i := until (int .replicas) -}}
{{- $routes = append $routes (printf "nats-route://%s-%s-%d.%s.%s.svc:%d" (include "socle.fullname" $root) $w.name $i (include "socle.headless" (dict "root" $root "w" $w)) $root.Release.Namespace (int $root.Values.nats.routePort)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- join "," $routes -}}
{{- end -}}

{{/* Whether a workload's services include emergency, etc.: dict "w" $w "s" "emergency". */}}
{{- define "socle.runs" -}}
{{- if has .s .w.services -}}true{{- end -}}
{{- end -}}

{{/* The restricted container securityContext (Pod Security "restricted", OpenShift
restricted-v2): no user or group of ours, the platform chooses them. */}}
{{- define "socle.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "socle.podSecurityContext" -}}
runAsNonRoot: true
seccompProfile:
  type: RuntimeDefault
{{- with .Values.podSecurityContext }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The environment common to `socle serve` and `socle migrate`. */}}
{{- define "socle.baseEnv" -}}
- name: SOCLE_DATA_DIR
  value: {{ .Values.dataDir | quote }}
- name: SOCLE_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
- name: SOCLE_LOG_FORMAT
  value: {{ .Values.log.format | quote }}
- name: SOCLE_SHUTDOWN_DRAIN
  value: {{ .Values.shutdownDrain | quote }}
- name: SOCLE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "socle.dbSecretName" . }}
      key: {{ include "socle.dbSecretKey" . }}
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef:
      resource: limits.memory
{{- end -}}

{{/* SOCLE_MIGRATE for the workloads. The migration Job migrates before install and upgrade, so
the workloads only check the schema (never), except: without the Job they migrate themselves,
and at the install of a CloudNativePG Cluster rendered by this chart, which does not exist
before the install hooks run, the first pods migrate the new, empty database (concurrent
starts are serialised by the advisory lock of internal/platform/database/migrate.go). */}}
{{- define "socle.migrateAtStart" -}}
{{- if not .Values.migration.enabled -}}always
{{- else if and (eq .Values.postgresql.mode "cnpg") .Values.postgresql.cnpg.create .Release.IsInstall -}}always
{{- else -}}never
{{- end -}}
{{- end -}}

{{/* Egress every socle pod needs: dict "root" $ "dns" peers "db" peers. */}}
{{- define "socle.egressBase" }}
# DNS (OpenShift's DNS pods listen on 5353 behind the service's 53).
- to:
    {{- toYaml .dns | nindent 4 }}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
    - {protocol: UDP, port: 5353}
    - {protocol: TCP, port: 5353}
# PostgreSQL.
- to:
    {{- toYaml .db | nindent 4 }}
  ports:
    - {protocol: TCP, port: {{ .root.Values.postgresql.port }}}
{{- end }}
