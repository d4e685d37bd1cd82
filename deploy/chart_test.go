// Package deploy holds the tests of socle's Helm chart: rendered with Helm's library for
// every value set of testdata/, each object decoded into the Kubernetes API's types and
// checked against the Pod Security "restricted" profile and socle's own rules (rules_test.go).
package deploy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"socle/deploy/render"
)

const chartDir = "helm/socle"

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := render.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func renderSet(t *testing.T, ch *chart.Chart, vals map[string]any, rel common.ReleaseOptions) *objects {
	t.Helper()
	docs, err := render.Render(ch, vals, rel)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	o, err := decode(docs)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return o
}

// TestValueSets renders every value set, as an install and as an upgrade, and checks every
// object.
func TestValueSets(t *testing.T) {
	ch := loadChart(t)
	sets, err := render.ValueSets("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"default", "openshift", "cnpg", "cnpg-created", "external", "certmanager", "split"} {
		if _, ok := sets[want]; !ok {
			t.Errorf("value set %s is missing from testdata", want)
		}
	}
	for _, name := range sortedKeys(sets) {
		vals, err := render.ReadValues(sets[name])
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range []common.ReleaseOptions{render.Release, render.Upgrade} {
			phase := "install"
			if rel.IsUpgrade {
				phase = "upgrade"
			}
			t.Run(name+"/"+phase, func(t *testing.T) {
				start := time.Now()
				o := renderSet(t, ch, vals, rel)
				for _, line := range check(o) {
					t.Error(line)
				}
				checkWorkloads(t, o, vals)
				checkMigration(t, o, vals, rel)
				t.Logf("%d objects, rendered and checked in %v", len(o.docs), time.Since(start).Round(time.Millisecond))
			})
		}
	}
}

// checkWorkloads: the services run where values say, emergency on a StatefulSet whose data
// directory (its audit journal) is a claim per pod, and the public URL is one socle accepts.
func checkWorkloads(t *testing.T, o *objects, vals map[string]any) {
	t.Helper()
	where := map[string][]string{}
	for _, p := range o.pods() {
		if !p.longRun {
			continue
		}
		c := p.spec.Containers[0]
		env := envOf(c)
		if _, err := publicURL(c); err != nil {
			t.Errorf("%s: %v", p.owner, err)
		}
		for _, s := range strings.Split(env["SOCLE_SERVICES"].Value, ",") {
			where[s] = append(where[s], p.owner)
			if s != "emergency" {
				continue
			}
			if !strings.HasPrefix(p.owner, "StatefulSet/") {
				t.Errorf("%s runs emergency: its audit journal needs a StatefulSet's volume per pod", p.owner)
				continue
			}
			dataDir := env["SOCLE_DATA_DIR"].Value
			onClaim := false
			for _, m := range c.VolumeMounts {
				for _, cl := range p.claims {
					onClaim = onClaim || (m.Name == cl.Name && m.MountPath == dataDir && !m.ReadOnly)
				}
			}
			if !onClaim {
				t.Errorf("%s: SOCLE_DATA_DIR %s is not on a volume claim of its own", p.owner, dataDir)
			}
		}
		if slices.Contains(strings.Split(env["SOCLE_SERVICES"].Value, ","), "collab") {
			if _, ok := env["SOCLE_COLLAB_STORAGE_DIR"]; !ok {
				t.Errorf("%s runs collab without the shared transfers volume", p.owner)
			}
		}
	}
	// Each service of the chart's workloads runs somewhere, once.
	for _, s := range []string{"emergency", "visio", "gateway", "wallet", "collab"} {
		if len(where[s]) != 1 {
			t.Errorf("service %s runs in %v: want exactly one workload", s, where[s])
		}
	}
}

// checkMigration: the schema is migrated by the hook Job before the new pods start, and the
// pods only check it (SOCLE_MIGRATE=never), except at the install of a database the chart
// creates, which does not exist before the hook.
func checkMigration(t *testing.T, o *objects, vals map[string]any, rel common.ReleaseOptions) {
	t.Helper()
	created := true
	if pg, ok := vals["postgresql"].(map[string]any); ok {
		if mode, _ := pg["mode"].(string); mode == "secret" {
			created = false
		}
		if c, ok := pg["cnpg"].(map[string]any); ok && c["create"] == false {
			created = false
		}
	}
	if (len(o.clusters) == 1) != created {
		t.Errorf("%d CloudNativePG Clusters rendered, want created=%v", len(o.clusters), created)
	}
	if len(o.jobs) != 1 {
		t.Fatalf("%d Jobs, want the migration Job", len(o.jobs))
	}
	job := o.jobs[0]
	if args := job.Spec.Template.Spec.Containers[0].Args; !slices.Equal(args, []string{"migrate"}) {
		t.Errorf("Job/%s runs %v, want socle migrate", job.Name, args)
	}
	hooks := strings.Split(job.Annotations["helm.sh/hook"], ",")
	if !slices.Contains(hooks, "pre-upgrade") {
		t.Errorf("Job/%s hooks %v: want pre-upgrade", job.Name, hooks)
	}
	if slices.Contains(hooks, "pre-install") == created {
		t.Errorf("Job/%s hooks %v with a database created by the chart: %v", job.Name, hooks, created)
	}
	want := "never"
	if created && rel.IsInstall {
		want = "always"
	}
	for _, p := range o.pods() {
		if p.longRun {
			if got := envOf(p.spec.Containers[0])["SOCLE_MIGRATE"].Value; got != want {
				t.Errorf("%s: SOCLE_MIGRATE=%s, want %s", p.owner, got, want)
			}
		}
	}
}

// TestPlatformObjects: what each platform gets, and not the other's.
func TestPlatformObjects(t *testing.T) {
	ch := loadChart(t)
	read := func(set string) *objects {
		vals, err := render.ReadValues("testdata/values-" + set + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		return renderSet(t, ch, vals, render.Release)
	}
	k8s := read("default")
	if len(k8s.ingresses) != 1 || len(k8s.routes) != 0 {
		t.Errorf("Kubernetes: %d Ingresses and %d Routes, want 1 and 0", len(k8s.ingresses), len(k8s.routes))
	}
	lbs := 0
	for _, s := range k8s.services {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			lbs++
			if s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
				t.Errorf("Service/%s: externalTrafficPolicy %s: the pods would not see the callers' addresses", s.Name, s.Spec.ExternalTrafficPolicy)
			}
		}
	}
	if lbs != 1 {
		t.Errorf("Kubernetes: %d LoadBalancer Services, want 1 (the interconnect)", lbs)
	}
	os := read("openshift")
	if len(os.ingresses) != 0 {
		t.Errorf("OpenShift: %d Ingresses, want Routes only", len(os.ingresses))
	}
	var passthrough, reencrypt int
	for _, r := range os.routes {
		switch r.Spec.TLS.Termination {
		case "passthrough":
			passthrough++
		case "reencrypt":
			reencrypt++
			if !strings.Contains(r.Spec.TLS.DestinationCACertificate, "BEGIN CERTIFICATE") {
				t.Errorf("Route/%s: reencrypt without the pods' CA", r.Name)
			}
		}
	}
	// One web Route for "/" and one per path of the interconnect workload's pages.
	if passthrough != 1 || reencrypt != 4 {
		t.Errorf("OpenShift: %d passthrough and %d reencrypt Routes, want 1 and 4", passthrough, reencrypt)
	}
	for _, s := range os.services {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			t.Errorf("OpenShift: Service/%s is a LoadBalancer; the passthrough Route publishes the interconnect", s.Name)
		}
	}
	// passthrough: people see socle's certificate; one Route, no path, to the default workload.
	vals, err := render.ReadValues("testdata/values-openshift.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vals["web"].(map[string]any)["route"] = map[string]any{"termination": "passthrough"}
	pt := renderSet(t, ch, vals, render.Release)
	for _, line := range check(pt) {
		t.Error(line)
	}
	webRoutes := 0
	for _, r := range pt.routes {
		if r.Spec.Port.TargetPort == "web" {
			webRoutes++
			if r.Spec.TLS.Termination != "passthrough" || r.Spec.Path != "" || r.Spec.To.Name != "socle-web" {
				t.Errorf("Route/%s: %s %q to %s, want passthrough, no path, to socle-web", r.Name, r.Spec.TLS.Termination, r.Spec.Path, r.Spec.To.Name)
			}
		}
	}
	if webRoutes != 1 {
		t.Errorf("passthrough: %d web Routes, want 1", webRoutes)
	}
	cm := read("certmanager")
	if len(cm.certificates) != 2 {
		t.Fatalf("cert-manager: %d Certificates, want the server's and the client's", len(cm.certificates))
	}
	server := cm.certificates[1]
	if !strings.HasSuffix(server.Name, "-server") {
		server = cm.certificates[0]
	}
	if !slices.Contains(server.Spec.DNSNames, "*.socle-interconnect-headless.socle.svc") ||
		!slices.Contains(server.Spec.Usages, "client auth") {
		t.Errorf("Certificate/%s: the NATS routes authenticate with it: want the headless wildcard and client auth, got %v %v",
			server.Name, server.Spec.DNSNames, server.Spec.Usages)
	}
	ext := read("external")
	for _, p := range ext.pods() {
		if !p.longRun {
			continue
		}
		env := envOf(p.spec.Containers[0])
		if e := env["SOCLE_NATS_URL"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef.Name != "socle-nats" {
			t.Errorf("%s: SOCLE_NATS_URL not from the Secret socle-nats", p.owner)
		}
		if _, ok := env["SOCLE_NATS_ROUTES"]; ok {
			t.Errorf("%s: NATS routes with an external NATS", p.owner)
		}
	}
}

// TestSchemaRefusesBadValues: values.schema.json, as Helm applies it, refuses each of these
// and says where.
func TestSchemaRefusesBadValues(t *testing.T) {
	ch := loadChart(t)
	workload := func(extra string) string {
		return `
workloads:
  - name: interconnect
    kind: StatefulSet
    services: [emergency]
    replicas: 3
    web: {default: true}
    resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {memory: 2Gi}}` + extra
	}
	for _, tc := range []struct {
		name, values, want string
	}{
		{"unknown top-level key", "replica: 3", "additional properties 'replica' not allowed"},
		{"unknown workload kind", workload("\n    kind: DaemonSet"), "value must be one of 'Deployment', 'StatefulSet'"},
		{"unknown service", workload("\n    services: [emergncy]"), "/workloads/0/services/0"},
		{"emergency on a Deployment", workload("\n    kind: Deployment"), "/workloads/0/kind"},
		{"no memory limit", workload("\n    resources: {requests: {cpu: 1, memory: 1Gi}, limits: {}}"), "missing property 'memory'"},
		{"a UID on OpenShift", "openshift: true\npodSecurityContext: {fsGroup: 1000}", "/podSecurityContext"},
		{"runAsUser anywhere", "podSecurityContext: {runAsUser: 1000}", "additional properties 'runAsUser' not allowed"},
		{"a setting the chart owns", "env: {SOCLE_SERVICES: emergency}", "/env/SOCLE_SERVICES"},
		{"database Secret missing", "postgresql: {mode: secret}", "/postgresql/secret"},
		{"NATS Secret missing", "nats: {mode: external}", "/nats/external"},
		{"edge Route to HTTPS pods", "web: {route: {termination: edge}}", "/web/route/termination"},
		{"public URL with a path", "publicURL: https://socle.example.org/app", "/publicURL"},
		{"image digest not sha256", "image: {digest: latest}", "/image/digest"},
		{"zero replicas", workload("\n    replicas: 0"), "/workloads/0/replicas"},
		{"PSAPs anywhere by omission", "networkPolicy: {psaps: {peers: [], ports: [443]}}", "/networkPolicy/psaps/peers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := map[string]any{}
			if err := yaml.Unmarshal([]byte(tc.values), &vals); err != nil {
				t.Fatal(err)
			}
			_, err := render.Render(ch, vals, render.Release)
			if err == nil {
				t.Fatalf("values accepted:\n%s", tc.values)
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not say %q:\n%v", tc.want, err)
			}
			t.Logf("refused: %s", strings.Join(strings.Fields(err.Error()), " "))
		})
	}
}

// TestTemplateRefusesInconsistentWorkloads: what the schema cannot say across workloads, the
// templates refuse with a message naming the value.
func TestTemplateRefusesInconsistentWorkloads(t *testing.T) {
	ch := loadChart(t)
	res := `resources: {requests: {cpu: 1, memory: 1Gi}, limits: {memory: 1Gi}}`
	for _, tc := range []struct {
		name, values, want string
	}{
		{"two defaults", `workloads:
  - {name: a, kind: StatefulSet, services: [emergency], replicas: 1, web: {default: true}, ` + res + `}
  - {name: b, kind: Deployment, services: [visio], replicas: 1, web: {default: true}, ` + res + `}`,
			"exactly one workload must have web.default: true"},
		{"same name twice", `workloads:
  - {name: a, kind: StatefulSet, services: [emergency], replicas: 1, web: {default: true}, ` + res + `}
  - {name: a, kind: Deployment, services: [visio], replicas: 1, ` + res + `}`,
			`the name "a" is used twice`},
		{"embedded NATS without seeds", `workloads:
  - {name: a, kind: Deployment, services: [visio], replicas: 2, web: {default: true}, ` + res + `}`,
			"several pods need a StatefulSet workload"},
		{"collab replicas without shared files", `transfers: {enabled: false}
workloads:
  - {name: a, kind: StatefulSet, services: [emergency, collab], replicas: 2, web: {default: true}, ` + res + `}`,
			"collab on 2 replicas needs the shared transfers volume"},
		{"database peers missing", `postgresql: {mode: secret, secret: {name: db}}`, "postgresql.networkPolicyPeers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals := map[string]any{}
			if err := yaml.Unmarshal([]byte(tc.values), &vals); err != nil {
				t.Fatal(err)
			}
			_, err := render.Render(ch, vals, render.Release)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error saying %q, got %v", tc.want, err)
			}
		})
	}
}

// TestRulesCatch: the rules fail on objects that break them. The default value set, changed
// after rendering as a careless edit of the templates would change it.
func TestRulesCatch(t *testing.T) {
	ch := loadChart(t)
	o := renderSet(t, ch, map[string]any{}, render.Release)
	if v := check(o); len(v) > 0 {
		t.Fatalf("the default value set already breaks the rules: %v", v)
	}
	st := o.statefulSets[0]
	st.Spec.Template.Spec.SecurityContext.RunAsUser = ptr.To[int64](1000)

	// Pod Security "restricted" allows a fixed UID; OpenShift's restricted-v2 does not.
	p := o.pods()[len(o.deployments)]
	lv := psaLevel()
	if agg := aggregate(p); !agg.Allowed {
		t.Fatalf("PSA %v refuses runAsUser 1000: %s", lv, agg.ForbiddenReason())
	}

	d := o.deployments[0]
	c := &d.Spec.Template.Spec.Containers[0]
	c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" })
	c.Ports = append(c.Ports, corev1.ContainerPort{Name: "http", ContainerPort: 80})
	c.ReadinessProbe = nil
	delete(c.Resources.Limits, corev1.ResourceMemory)
	c.Resources.Requests[corev1.ResourceCPU] = resource.Quantity{}
	o.pdbs = o.pdbs[:1] // the Deployment's PodDisruptionBudget is gone
	o.services[0].Spec.Selector = map[string]string{"app.kubernetes.io/component": "nothing"}
	o.netpols[1].Spec.Egress[1].To = nil // PostgreSQL's peers left empty
	o.rules[0].Spec.Groups[0].Rules[1].Expr = `kube_pod_status_ready{pod=~"socle-.*", condition="false"} == 1`
	o.rules[0].Spec.Groups[1].Rules[0].Expr = `increase(socle_emergency_delivery_lost_total[10m]) > 0`

	got := strings.Join(check(o), "\n")
	t.Logf("violations:\n%s", got)
	for _, want := range []string{
		"StatefulSet/socle-interconnect: pod securityContext.runAsUser is set (1000): OpenShift assigns the UID",
		"Deployment/socle-web container socle: writes /tmp, which is not on a writable volume",
		"Deployment/socle-web container socle: port http is 80: below 1024",
		"Deployment/socle-web container socle: no readinessProbe",
		"Deployment/socle-web container socle: no memory limit",
		"Deployment/socle-web container socle: no cpu and memory requests",
		"Deployment/socle-web: matched by 0 PodDisruptionBudgets, want 1",
		"matches no pods",
		"egress rule 1 has no to: it allows every destination",
		`SoclePodNotReady: pod=~"socle-.*" matches the database's pod socle-db-1`,
		"SocleLocationUndelivered: uses socle_emergency_delivery_lost_total, which socle does not register",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the rules did not report %q", want)
		}
	}
}

// TestHelmLint: what `helm lint` says of the chart with each value set (Chart.yaml, values
// against the schema, templates rendered strictly, deprecated API versions): nothing at
// warning or above.
func TestHelmLint(t *testing.T) {
	sets, err := render.ValueSets("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range sortedKeys(sets) {
		vals, err := render.ReadValues(sets[name])
		if err != nil {
			t.Fatal(err)
		}
		res := lint.RunAll(chartDir, vals, render.Release.Namespace)
		for _, m := range res.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("%s: %s", name, m)
			} else {
				t.Logf("%s: %s", name, m)
			}
		}
	}
}
