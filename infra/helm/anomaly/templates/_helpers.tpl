{{/* Names and labels. */}}
{{- define "anomaly.fullname" -}}
{{- if contains "anomaly" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-anomaly" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "anomaly.selectorLabels" -}}
app.kubernetes.io/name: anomaly
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "anomaly.labels" -}}
{{ include "anomaly.selectorLabels" . }}
app.kubernetes.io/part-of: anomaly
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "anomaly.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{- define "anomaly.credentialsSecret" -}}
{{ include "anomaly.fullname" . }}-credentials
{{- end -}}

{{/* A topic or consumer group id as the services name it: KAFKA_TOPIC_PREFIX in front. (dict root name) */}}
{{- define "anomaly.prefixed" -}}
{{ .root.Values.kafka.topicPrefix }}{{ .name }}
{{- end -}}

{{/*
The input topic of each processor (processors/plugins/*.py, base names of anomaly_core/topics.py) and the
consumer group processors/service.py gives it: <prefix>processor-<name>.
*/}}
{{- define "anomaly.processorTopics" -}}
pose: media.frames.v1
scene: media.frames.v1
audio: media.audio.v1
caption: anomalies.candidates.v1
{{- end -}}

{{/* Container environment names of the credentials. */}}
{{- define "anomaly.credentialEnvNames" -}}
databasePassword: PGPASSWORD
s3AccessKey: S3_ACCESS_KEY
s3SecretKey: S3_SECRET_KEY
kafkaSaslPassword: KAFKA_SASL_PASSWORD
apiKeyPepper: API_KEY_PEPPER
jwtSecret: JWT_SECRET
{{- end -}}

{{/* Credentials that may stay unset even when credentials.required is true. */}}
{{- define "anomaly.optionalCredentials" -}}
[jwtSecret]
{{- end -}}

{{/* Where credential `name` is read from: {name, key} of a Secret, or {} when it is not set. (dict root name) */}}
{{- define "anomaly.credentialRef" -}}
{{- $c := index .root.Values.credentials .name -}}
{{- if $c.existingSecret -}}
{{- dict "name" $c.existingSecret "key" $c.key | toJson -}}
{{- else if $c.value -}}
{{- dict "name" (include "anomaly.credentialsSecret" .root) "key" .name | toJson -}}
{{- else -}}
{{- dict | toJson -}}
{{- end -}}
{{- end -}}

{{/* The credentials a service needs; Kafka's only when SASL is on. (dict root names) */}}
{{- define "anomaly.credentialEnv" -}}
{{- $root := .root -}}
{{- $envNames := include "anomaly.credentialEnvNames" . | fromYaml -}}
{{- $optional := include "anomaly.optionalCredentials" . | fromYamlArray -}}
{{- $names := .names -}}
{{- if $root.Values.kafka.sasl.enabled -}}
{{- $names = append $names "kafkaSaslPassword" -}}
{{- end -}}
{{- range $names }}
{{- $ref := include "anomaly.credentialRef" (dict "root" $root "name" .) | fromJson -}}
{{- if $ref.name }}
- name: {{ index $envNames . }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- else if and $root.Values.credentials.required (not (has . $optional)) }}
{{- fail (printf "credentials.%s is required (%s): set credentials.%s.existingSecret to a Secret holding key %q, or pass credentials.%s.value at install time" . (index $envNames .) . (index $root.Values.credentials .).key .) }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The whole container environment: connection settings from their values, then `env`, then what the service
itself sets (`extra`), then the service's own `env`; credentials last, from Secrets only, then the service's
`secretEnv` (NAME: {existingSecret, key}), also only from Secrets.
(dict root extra svcEnv credentials secretEnv)
*/}}
{{- define "anomaly.env" -}}
{{- $v := .root.Values -}}
{{- $env := dict
  "KAFKA_BOOTSTRAP_SERVERS" $v.kafka.bootstrapServers
  "KAFKA_SECURITY_PROTOCOL" $v.kafka.securityProtocol
  "KAFKA_TOPIC_PARTITIONS" $v.kafka.partitions
  "KAFKA_REPLICATION_FACTOR" $v.kafka.replicationFactor
  "KAFKA_TOPIC_PREFIX" $v.kafka.topicPrefix
  "CONSUMER_START" $v.kafka.consumerStart
  "SCHEMA_REGISTRY_URL" $v.schemaRegistry.url
  "DATABASE_URL" (printf "postgresql://%s@%s:%v/%s?sslmode=%s" $v.database.user $v.database.host $v.database.port $v.database.name $v.database.sslmode)
  "S3_ENDPOINT_URL" $v.objectStore.endpointUrl
  "S3_REGION" $v.objectStore.region
  "S3_FRAMES_BUCKET" $v.objectStore.buckets.frames
  "S3_AUDIO_BUCKET" $v.objectStore.buckets.audio
  "S3_EVIDENCE_BUCKET" $v.objectStore.buckets.evidence
-}}
{{- if $v.kafka.sasl.enabled -}}
{{- $_ := set $env "KAFKA_SASL_MECHANISM" $v.kafka.sasl.mechanism -}}
{{- $_ := set $env "KAFKA_SASL_USERNAME" $v.kafka.sasl.username -}}
{{- end -}}
{{- $env = mergeOverwrite $env (deepCopy $v.env) (.extra | default dict) (.svcEnv | default dict) -}}
{{- $credentialEnv := include "anomaly.credentialEnvNames" . | fromYaml -}}
{{- range $name, $envName := $credentialEnv -}}
{{- if hasKey $env $envName -}}
{{- fail (printf "%s is a credential: set it with credentials.%s (a Secret), not as a plain env value" $envName $name) -}}
{{- end -}}
{{- end -}}
{{- range $name, $value := $env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- include "anomaly.credentialEnv" (dict "root" .root "names" .credentials) }}
{{- $taken := concat (keys $env) (values $credentialEnv) -}}
{{- range $name, $ref := .secretEnv }}
{{- if has $name $taken }}
{{- fail (printf "secretEnv.%s: the container already gets %s elsewhere" $name $name) }}
{{- end }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.existingSecret }}
      key: {{ $ref.key }}
{{- end }}
{{- end -}}

{{- define "anomaly.resources" -}}
{{- $profile := index .root.Values.resourceProfiles .svc.resourceProfile -}}
{{- if not $profile -}}
{{- fail (printf "resourceProfile %q is not in resourceProfiles" .svc.resourceProfile) -}}
{{- end -}}
{{- toYaml (.svc.resources | default $profile) -}}
{{- end -}}

{{/* Probes on the services' own endpoints. kind: metrics | api | fusion. (dict root kind) */}}
{{- define "anomaly.probes" -}}
{{- $p := .root.Values.probes -}}
{{- $timing := printf "periodSeconds: %v\ntimeoutSeconds: %v\nfailureThreshold: %v" $p.periodSeconds $p.timeoutSeconds $p.failureThreshold -}}
{{- $startup := printf "periodSeconds: 10\ntimeoutSeconds: %v\nfailureThreshold: %v" $p.timeoutSeconds (div (add $p.startupSeconds 9) 10) -}}
{{- if eq .kind "api" }}
startupProbe:
  httpGet: { path: /healthz, port: http }
  {{- $startup | nindent 2 }}
livenessProbe:
  httpGet: { path: /healthz, port: http }
  {{- $timing | nindent 2 }}
readinessProbe:
  httpGet: { path: /readyz, port: http }
  {{- $timing | nindent 2 }}
{{- else }}
{{- $metrics := "httpGet: { path: /metrics, port: metrics }" -}}
{{- $heartbeat := "" -}}
{{- if eq .kind "fusion" -}}
{{- /* FUSION_LIVENESS_FILE is touched only while commits advance (fusion_app/liveness.py). */ -}}
{{- $heartbeat = printf "exec:\n  command: [python, -c, 'import os, sys, time; sys.exit(time.time() - os.stat(sys.argv[1]).st_mtime > float(sys.argv[2]))', %s, %q]" (include "anomaly.fusionHeartbeat" .root) (toString .root.Values.fusion.livenessMaxAgeSeconds) -}}
{{- end }}
startupProbe:
  {{- ($heartbeat | default $metrics) | nindent 2 }}
  {{- $startup | nindent 2 }}
livenessProbe:
  {{- ($heartbeat | default $metrics) | nindent 2 }}
  {{- $timing | nindent 2 }}
readinessProbe:
  {{- $metrics | nindent 2 }}
  {{- $timing | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
One Deployment of the platform's image.
(dict root name component args svc replicas strategy extra credentials probes port volumes mounts checksum);
the container also gets `svc.secretEnv` (anomaly.env).
*/}}
{{- define "anomaly.deployment" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $labels := dict "root" $root "component" .name -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "anomaly.fullname" $root }}-{{ .name }}
  labels:
    {{- include "anomaly.labels" $labels | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" .replicas) }}
  replicas: {{ .replicas }}
  {{- end }}
  revisionHistoryLimit: 3
  strategy:
    type: {{ .strategy | default "RollingUpdate" }}
  selector:
    matchLabels:
      {{- include "anomaly.selectorLabels" $labels | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "anomaly.labels" $labels | nindent 8 }}
      annotations:
        checksum/credentials: {{ toJson $v.credentials | sha256sum }}
        {{- with .checksum }}
        checksum/config: {{ . }}
        {{- end }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: {{ include "anomaly.image" $root }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args: {{ toJson .args }}
          ports:
            {{- if eq .probes "api" }}
            - name: http
              containerPort: {{ .port }}
              protocol: TCP
            {{- else }}
            - name: metrics
              containerPort: {{ $v.metrics.port }}
              protocol: TCP
            {{- end }}
          env:
            {{- include "anomaly.env" (dict "root" $root "extra" .extra "svcEnv" .svc.env "credentials" .credentials "secretEnv" .svc.secretEnv) | trim | nindent 12 }}
          resources:
            {{- include "anomaly.resources" (dict "root" $root "svc" .svc) | nindent 12 }}
          {{- include "anomaly.probes" (dict "root" $root "kind" .probes) | trim | nindent 10 }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          volumeMounts:
            - { name: tmp, mountPath: /tmp }
            {{- if $v.models.existingClaim }}
            - { name: models, mountPath: /app/models }
            {{- end }}
            {{- with .mounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- if $v.models.existingClaim }}
        - name: models
          persistentVolumeClaim:
            claimName: {{ $v.models.existingClaim }}
        {{- end }}
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with (.svc.nodeSelector | default $v.nodeSelector) }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with (.svc.tolerations | default $v.tolerations) }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with (.svc.affinity | default $v.affinity) }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{/* The file the fusion worker touches while its commits advance (FUSION_LIVENESS_FILE). */}}
{{- define "anomaly.fusionHeartbeat" -}}
/tmp/fusion-alive
{{- end -}}

{{/* KEDA's name for the SASL mechanism (values.schema.json allows only these three), and whether the brokers speak TLS. */}}
{{- define "anomaly.kedaSasl" -}}
{{- $names := dict "PLAIN" "plaintext" "SCRAM-SHA-256" "scram_sha256" "SCRAM-SHA-512" "scram_sha512" -}}
{{- index $names .Values.kafka.sasl.mechanism -}}
{{- end -}}

{{- define "anomaly.kedaTls" -}}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}enable{{ else }}disable{{ end -}}
{{- end -}}

{{/*
A ScaledObject scaling one consumer on its group's lag behind one topic. KEDA never goes past the topic's
partition count (allowIdleConsumers: false): a partition has one consumer per group.
(dict root name group topic autoscaling)
*/}}
{{- define "anomaly.scaledObject" -}}
{{- $root := .root -}}
{{- $a := .autoscaling -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ include "anomaly.fullname" $root }}-{{ .name }}
  labels:
    {{- include "anomaly.labels" (dict "root" $root "component" .name) | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ include "anomaly.fullname" $root }}-{{ .name }}
  minReplicaCount: {{ $a.minReplicas }}
  maxReplicaCount: {{ $a.maxReplicas }}
  pollingInterval: {{ $root.Values.keda.pollingInterval }}
  cooldownPeriod: {{ $root.Values.keda.cooldownPeriod }}
  triggers:
    - type: kafka
      metadata:
        bootstrapServers: {{ $root.Values.kafka.bootstrapServers | quote }}
        consumerGroup: {{ .group | quote }}
        topic: {{ .topic | quote }}
        lagThreshold: {{ $a.lagThreshold | quote }}
        offsetResetPolicy: {{ $root.Values.kafka.consumerStart | quote }}
        allowIdleConsumers: "false"
        tls: {{ include "anomaly.kedaTls" $root }}
        {{- if $root.Values.kafka.sasl.enabled }}
        sasl: {{ include "anomaly.kedaSasl" $root }}
        {{- end }}
      {{- if $root.Values.kafka.sasl.enabled }}
      authenticationRef:
        name: {{ include "anomaly.fullname" $root }}-kafka
      {{- end }}
{{- end -}}
