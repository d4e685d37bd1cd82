package deploy

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"socle/deploy/render"
)

// objects is a rendered value set decoded: the Kubernetes kinds into their k8s.io/api types
// (strictly: a field those types do not have is an error), the custom resources into the
// few fields the chart writes (strictly too, so that a misspelt field is caught).
type objects struct {
	docs         []render.Document
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	jobs         []*batchv1.Job
	services     []*corev1.Service
	pdbs         []*policyv1.PodDisruptionBudget
	netpols      []*networkingv1.NetworkPolicy
	ingresses    []*networkingv1.Ingress
	pvcs         []*corev1.PersistentVolumeClaim
	accounts     []*corev1.ServiceAccount
	routes       []*route
	monitors     []*serviceMonitor
	rules        []*prometheusRule
	clusters     []*cnpgCluster
	certificates []*certificate
}

// The custom resources' fields the chart uses, as their projects document them
// (route.openshift.io/v1 Route, monitoring.coreos.com/v1, postgresql.cnpg.io/v1,
// cert-manager.io/v1). Not their CRDs: a check that the chart writes only these.
type objectHead struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
}

type route struct {
	objectHead `json:",inline"`
	Spec       struct {
		Host string `json:"host"`
		Path string `json:"path,omitempty"`
		To   struct {
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Weight int    `json:"weight"`
		} `json:"to"`
		Port struct {
			TargetPort string `json:"targetPort"`
		} `json:"port"`
		TLS struct {
			Termination                   string `json:"termination"`
			InsecureEdgeTerminationPolicy string `json:"insecureEdgeTerminationPolicy"`
			DestinationCACertificate      string `json:"destinationCACertificate,omitempty"`
		} `json:"tls"`
		WildcardPolicy string `json:"wildcardPolicy"`
	} `json:"spec"`
}

type serviceMonitor struct {
	objectHead `json:",inline"`
	Spec       struct {
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port      string `json:"port"`
			Path      string `json:"path"`
			Scheme    string `json:"scheme"`
			Interval  string `json:"interval"`
			TLSConfig struct {
				InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
				CA                 *struct {
					Secret corev1.SecretKeySelector `json:"secret"`
				} `json:"ca,omitempty"`
				ServerName string `json:"serverName,omitempty"`
			} `json:"tlsConfig"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type prometheusRule struct {
	objectHead `json:",inline"`
	Spec       struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for,omitempty"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

type cnpgCluster struct {
	objectHead `json:",inline"`
	Spec       struct {
		Instances             int    `json:"instances"`
		ImageName             string `json:"imageName,omitempty"`
		PrimaryUpdateStrategy string `json:"primaryUpdateStrategy"`
		Bootstrap             struct {
			InitDB struct {
				Database string `json:"database"`
				Owner    string `json:"owner"`
			} `json:"initdb"`
		} `json:"bootstrap"`
		PostgreSQL struct {
			Parameters map[string]string `json:"parameters"`
		} `json:"postgresql"`
		Storage    cnpgStorage                 `json:"storage"`
		WalStorage *cnpgStorage                `json:"walStorage,omitempty"`
		Resources  corev1.ResourceRequirements `json:"resources"`
		Monitoring struct {
			EnablePodMonitor bool `json:"enablePodMonitor"`
		} `json:"monitoring"`
		Plugins []struct {
			Name          string            `json:"name"`
			IsWALArchiver bool              `json:"isWALArchiver,omitempty"`
			Parameters    map[string]string `json:"parameters,omitempty"`
		} `json:"plugins,omitempty"`
		Backup map[string]any `json:"backup,omitempty"`
	} `json:"spec"`
}

type cnpgStorage struct {
	Size         string `json:"size"`
	StorageClass string `json:"storageClass,omitempty"`
}

type certificate struct {
	objectHead `json:",inline"`
	Spec       struct {
		SecretName string `json:"secretName"`
		IssuerRef  struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Group string `json:"group"`
		} `json:"issuerRef"`
		CommonName string   `json:"commonName"`
		DNSNames   []string `json:"dnsNames,omitempty"`
		Subject    *struct {
			Organizations []string `json:"organizations"`
		} `json:"subject,omitempty"`
		Duration    string `json:"duration"`
		RenewBefore string `json:"renewBefore"`
		PrivateKey  struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		Usages []string `json:"usages"`
	} `json:"spec"`
}

// kinds: which apiVersion each kind the chart renders must carry.
var kinds = map[string]string{
	"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1", "Service": "v1",
	"PodDisruptionBudget": "policy/v1", "NetworkPolicy": "networking.k8s.io/v1",
	"Ingress": "networking.k8s.io/v1", "PersistentVolumeClaim": "v1", "ServiceAccount": "v1",
	"Route": "route.openshift.io/v1", "ServiceMonitor": "monitoring.coreos.com/v1",
	"PrometheusRule": "monitoring.coreos.com/v1", "Cluster": "postgresql.cnpg.io/v1",
	"Certificate": "cert-manager.io/v1",
}

// decode sorts the documents into their types; an unknown kind, a wrong apiVersion or a
// field the type lacks is an error.
func decode(docs []render.Document) (*objects, error) {
	o := &objects{docs: docs}
	seen := map[string]bool{}
	for _, d := range docs {
		want, ok := kinds[d.Head.Kind]
		if !ok {
			return nil, fmt.Errorf("%s (%s): a kind the tests do not know", d.ID(), d.Template)
		}
		if d.Head.APIVersion != want {
			return nil, fmt.Errorf("%s: apiVersion %s, want %s", d.ID(), d.Head.APIVersion, want)
		}
		if seen[d.ID()] {
			return nil, fmt.Errorf("%s: rendered twice", d.ID())
		}
		seen[d.ID()] = true
		var target any
		switch d.Head.Kind {
		case "Deployment":
			target = add(&o.deployments)
		case "StatefulSet":
			target = add(&o.statefulSets)
		case "Job":
			target = add(&o.jobs)
		case "Service":
			target = add(&o.services)
		case "PodDisruptionBudget":
			target = add(&o.pdbs)
		case "NetworkPolicy":
			target = add(&o.netpols)
		case "Ingress":
			target = add(&o.ingresses)
		case "PersistentVolumeClaim":
			target = add(&o.pvcs)
		case "ServiceAccount":
			target = add(&o.accounts)
		case "Route":
			target = add(&o.routes)
		case "ServiceMonitor":
			target = add(&o.monitors)
		case "PrometheusRule":
			target = add(&o.rules)
		case "Cluster":
			target = add(&o.clusters)
		case "Certificate":
			target = add(&o.certificates)
		}
		if err := yaml.UnmarshalStrict(d.YAML, target); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", d.ID(), d.Template, err)
		}
	}
	return o, nil
}

func add[T any](list *[]*T) *T {
	v := new(T)
	*list = append(*list, v)
	return v
}

// pod is one pod template and what it belongs to.
type pod struct {
	owner    string // Kind/name
	longRun  bool   // a server, not a Job
	meta     metav1.ObjectMeta
	spec     corev1.PodSpec
	claims   []corev1.PersistentVolumeClaim // a StatefulSet's volumeClaimTemplates
	selector *metav1.LabelSelector
}

func (o *objects) pods() []pod {
	var ps []pod
	for _, d := range o.deployments {
		ps = append(ps, pod{owner: "Deployment/" + d.Name, longRun: true, meta: d.Spec.Template.ObjectMeta,
			spec: d.Spec.Template.Spec, selector: d.Spec.Selector})
	}
	for _, s := range o.statefulSets {
		ps = append(ps, pod{owner: "StatefulSet/" + s.Name, longRun: true, meta: s.Spec.Template.ObjectMeta,
			spec: s.Spec.Template.Spec, claims: s.Spec.VolumeClaimTemplates, selector: s.Spec.Selector})
	}
	for _, j := range o.jobs {
		ps = append(ps, pod{owner: "Job/" + j.Name, meta: j.Spec.Template.ObjectMeta, spec: j.Spec.Template.Spec})
	}
	return ps
}

// violations collects what a value set breaks, one line each.
type violations []string

func (v *violations) add(owner, format string, args ...any) {
	*v = append(*v, owner+": "+fmt.Sprintf(format, args...))
}

var psa = func() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(err)
	}
	return e
}()

// check applies every rule to a decoded value set.
func check(o *objects) violations {
	var v violations
	ps := o.pods()
	for _, p := range ps {
		checkPod(&v, p)
	}
	checkNames(&v, o)
	checkSelection(&v, o, ps)
	checkExposure(&v, o)
	checkNATS(&v, o)
	checkMonitoring(&v, o)
	checkDatabase(&v, o, ps)
	checkPolicies(&v, o)
	return v
}

// checkPolicies: a NetworkPolicy rule without peers opens to every address (an empty list
// in a value, say); each rule of the chart names who.
func checkPolicies(v *violations, o *objects) {
	for _, np := range o.netpols {
		for i, r := range np.Spec.Ingress {
			if len(r.From) == 0 {
				v.add("NetworkPolicy/"+np.Name, "ingress rule %d has no from: it admits every source", i)
			}
		}
		for i, r := range np.Spec.Egress {
			if len(r.To) == 0 {
				v.add("NetworkPolicy/"+np.Name, "egress rule %d has no to: it allows every destination", i)
			}
		}
	}
}

func psaLevel() psaapi.LevelVersion {
	return psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
}

// aggregate is the Pod Security admission's verdict on p at the restricted level.
func aggregate(p pod) policy.AggregateCheckResult {
	return policy.AggregateCheckResults(psa.EvaluatePod(psaLevel(), &p.meta, &p.spec))
}

// checkPod: the Pod Security "restricted" profile, then what OpenShift's restricted-v2 SCC
// and a read-only root file system add to it.
func checkPod(v *violations, p pod) {
	if agg := aggregate(p); !agg.Allowed {
		v.add(p.owner, "Pod Security restricted: %s: %s", agg.ForbiddenReason(), agg.ForbiddenDetail())
	}
	// restricted-v2 assigns the UID and groups from the namespace's range and refuses others
	// (MustRunAsRange): the chart sets none, whatever PSA allows.
	if sc := p.spec.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			v.add(p.owner, "pod securityContext.runAsUser is set (%d): OpenShift assigns the UID", *sc.RunAsUser)
		}
		if sc.RunAsGroup != nil {
			v.add(p.owner, "pod securityContext.runAsGroup is set (%d): OpenShift assigns the group", *sc.RunAsGroup)
		}
		if sc.FSGroup != nil {
			v.add(p.owner, "pod securityContext.fsGroup is set (%d): OpenShift assigns it", *sc.FSGroup)
		}
	}
	if p.spec.HostNetwork || p.spec.HostPID || p.spec.HostIPC {
		v.add(p.owner, "uses the host's namespaces")
	}
	if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
		v.add(p.owner, "mounts a service account token; socle calls no Kubernetes API")
	}
	volumes := map[string]corev1.Volume{}
	for _, vol := range p.spec.Volumes {
		volumes[vol.Name] = vol
	}
	claims := map[string]bool{}
	for _, c := range p.claims {
		claims[c.Name] = true
	}
	all := append(append([]corev1.Container{}, p.spec.InitContainers...), p.spec.Containers...)
	for _, c := range all {
		owner := p.owner + " container " + c.Name
		if sc := c.SecurityContext; sc == nil {
			v.add(owner, "no securityContext")
		} else {
			if sc.RunAsUser != nil || sc.RunAsGroup != nil {
				v.add(owner, "securityContext.runAsUser/runAsGroup is set: OpenShift assigns them")
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				v.add(owner, "readOnlyRootFilesystem is not true")
			}
			if sc.Privileged != nil && *sc.Privileged {
				v.add(owner, "privileged")
			}
		}
		for _, port := range c.Ports {
			if port.ContainerPort < 1024 {
				v.add(owner, "port %s is %d: below 1024 needs a capability the pod drops", port.Name, port.ContainerPort)
			}
			if port.HostPort != 0 {
				v.add(owner, "hostPort %d", port.HostPort)
			}
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			v.add(owner, "no cpu and memory requests")
		}
		if c.Resources.Limits.Memory().IsZero() {
			v.add(owner, "no memory limit")
		}
		// Every mount is a volume of the pod; what is writable is an emptyDir or a claim.
		writable := []string{}
		for _, m := range c.VolumeMounts {
			vol, ok := volumes[m.Name]
			switch {
			case claims[m.Name]:
				if !m.ReadOnly {
					writable = append(writable, m.MountPath)
				}
			case !ok:
				v.add(owner, "mounts %q, which is not a volume of the pod", m.Name)
			case vol.EmptyDir != nil || vol.PersistentVolumeClaim != nil:
				if !m.ReadOnly {
					writable = append(writable, m.MountPath)
				}
			case !m.ReadOnly:
				v.add(owner, "mounts %s (%s) writable: only emptyDir and claims may be", m.MountPath, m.Name)
			}
		}
		// The paths socle writes to, read from its settings, and /tmp.
		mustWrite := []string{"/tmp"}
		readable := map[string]bool{}
		for _, e := range c.Env {
			switch e.Name {
			case "SOCLE_DATA_DIR", "SOCLE_COLLAB_STORAGE_DIR":
				mustWrite = append(mustWrite, e.Value)
			case "SOCLE_TLS_CERT", "SOCLE_TLS_KEY", "SOCLE_CLIENT_CA", "SOCLE_CLIENT_CERT", "SOCLE_CLIENT_KEY":
				readable[e.Value] = true
			}
		}
		for _, path := range mustWrite {
			if !under(path, writable) {
				v.add(owner, "writes %s, which is not on a writable volume (the root file system is read-only)", path)
			}
		}
		for path := range readable {
			if !under(path, mountPaths(c.VolumeMounts)) {
				v.add(owner, "reads %s, which no volume provides", path)
			}
		}
		if p.longRun {
			checkProbes(v, owner, c)
		}
	}
}

func under(path string, dirs []string) bool {
	for _, d := range dirs {
		if path == d || strings.HasPrefix(path, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

func mountPaths(ms []corev1.VolumeMount) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.MountPath)
	}
	return out
}

// checkProbes: a server has the three probes, on socle's ops listener (HTTPS): /healthz for
// start-up and liveness, /readyz for readiness.
func checkProbes(v *violations, owner string, c corev1.Container) {
	ops := false
	for _, p := range c.Ports {
		ops = ops || p.Name == "ops"
	}
	for _, pr := range []struct {
		name, path string
		probe      *corev1.Probe
	}{{"startupProbe", "/healthz", c.StartupProbe}, {"livenessProbe", "/healthz", c.LivenessProbe}, {"readinessProbe", "/readyz", c.ReadinessProbe}} {
		switch {
		case pr.probe == nil:
			v.add(owner, "no %s", pr.name)
		case pr.probe.HTTPGet == nil:
			v.add(owner, "%s is not an HTTP GET", pr.name)
		case pr.probe.HTTPGet.Path != pr.path || pr.probe.HTTPGet.Scheme != corev1.URISchemeHTTPS ||
			pr.probe.HTTPGet.Port.String() != "ops" || !ops:
			v.add(owner, "%s is %s %s on port %s: want HTTPS %s on the ops port", pr.name,
				pr.probe.HTTPGet.Scheme, pr.probe.HTTPGet.Path, pr.probe.HTTPGet.Port.String(), pr.path)
		}
	}
}

// checkNames: names the API server accepts (Services are DNS-1035 labels), and the chart's
// labels on every object.
func checkNames(v *violations, o *objects) {
	for _, d := range o.docs {
		if errs := validation.IsDNS1123Subdomain(d.Head.Metadata.Name); len(errs) > 0 {
			v.add(d.ID(), "name: %s", strings.Join(errs, "; "))
		}
		for k, val := range d.Head.Metadata.Labels {
			if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(val)...); len(errs) > 0 {
				v.add(d.ID(), "label %s=%s: %s", k, val, strings.Join(errs, "; "))
			}
		}
		for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"} {
			if d.Head.Metadata.Labels[k] == "" {
				v.add(d.ID(), "no label %s", k)
			}
		}
	}
	for _, s := range o.services {
		if errs := validation.IsDNS1035Label(s.Name); len(errs) > 0 {
			v.add("Service/"+s.Name, "name: %s", strings.Join(errs, "; "))
		}
	}
}

// checkSelection: selectors match their pods; each server is under a PodDisruptionBudget and
// NetworkPolicies (the default deny and one that lets something in); each Service selects
// pods that have the ports it targets.
func checkSelection(v *violations, o *objects, ps []pod) {
	for _, p := range ps {
		podLabels := labels.Set(p.meta.Labels)
		if p.selector != nil {
			sel, err := metav1.LabelSelectorAsSelector(p.selector)
			if err != nil || !sel.Matches(podLabels) {
				v.add(p.owner, "selector %v does not match its pod template's labels", p.selector.MatchLabels)
			}
			for _, q := range ps {
				if q.owner != p.owner && q.longRun && sel.Matches(labels.Set(q.meta.Labels)) {
					v.add(p.owner, "selector also matches the pods of %s", q.owner)
				}
			}
		}
		if p.longRun {
			n := 0
			for _, pdb := range o.pdbs {
				if selects(pdb.Spec.Selector, podLabels) {
					n++
				}
			}
			if n != 1 {
				v.add(p.owner, "matched by %d PodDisruptionBudgets, want 1", n)
			}
		}
		deny, allow := false, false
		for _, np := range o.netpols {
			if !selects(&np.Spec.PodSelector, podLabels) {
				continue
			}
			if len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 && len(np.Spec.PolicyTypes) == 2 {
				deny = true
			} else {
				allow = true
			}
		}
		if len(o.netpols) > 0 && (!deny || !allow) {
			v.add(p.owner, "NetworkPolicies: default deny %v, a policy of its own %v: want both", deny, allow)
		}
	}
	for _, s := range o.services {
		var matched []pod
		for _, p := range ps {
			if p.longRun && len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(p.meta.Labels)) {
				matched = append(matched, p)
			}
		}
		if len(matched) == 0 {
			v.add("Service/"+s.Name, "selector %v matches no pods", s.Spec.Selector)
			continue
		}
		for _, port := range s.Spec.Ports {
			for _, p := range matched {
				if !hasPort(p.spec, port.TargetPort.String()) {
					v.add("Service/"+s.Name, "port %s targets %s, which %s's pods do not have", port.Name, port.TargetPort.String(), p.owner)
				}
			}
		}
	}
	for _, st := range o.statefulSets {
		ok := false
		for _, s := range o.services {
			ok = ok || (s.Name == st.Spec.ServiceName && s.Spec.ClusterIP == corev1.ClusterIPNone)
		}
		if !ok {
			v.add("StatefulSet/"+st.Name, "serviceName %q is not a headless Service of the chart", st.Spec.ServiceName)
		}
	}
}

func selects(sel *metav1.LabelSelector, l labels.Set) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(l)
}

func hasPort(spec corev1.PodSpec, target string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == target || strconv.Itoa(int(p.ContainerPort)) == target {
				return true
			}
		}
	}
	return false
}

// checkExposure: Ingress and Routes point at Services and ports that exist; the interconnect
// is published as TLS passthrough (Route) or as TCP (Service), never ended by a proxy.
func checkExposure(v *violations, o *objects) {
	svc := map[string]*corev1.Service{}
	for _, s := range o.services {
		svc[s.Name] = s
	}
	hasNamedPort := func(name, port string) bool {
		s, ok := svc[name]
		if !ok {
			return false
		}
		for _, p := range s.Spec.Ports {
			if p.Name == port || p.TargetPort.String() == port {
				return true
			}
		}
		return false
	}
	for _, ing := range o.ingresses {
		for _, r := range ing.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				if b == nil || !hasNamedPort(b.Name, b.Port.Name) {
					v.add("Ingress/"+ing.Name, "path %s goes to a Service or port the chart does not have", p.Path)
				}
			}
		}
	}
	for _, r := range o.routes {
		if r.Spec.To.Kind != "Service" || !hasNamedPort(r.Spec.To.Name, r.Spec.Port.TargetPort) {
			v.add("Route/"+r.Name, "goes to %s %s port %s, which the chart does not have", r.Spec.To.Kind, r.Spec.To.Name, r.Spec.Port.TargetPort)
		}
		switch r.Spec.Port.TargetPort {
		case "interconnect":
			if r.Spec.TLS.Termination != "passthrough" || r.Spec.Path != "" {
				v.add("Route/"+r.Name, "interconnect with termination %q: mutual TLS needs passthrough", r.Spec.TLS.Termination)
			}
		case "web":
			if r.Spec.TLS.Termination == "edge" {
				v.add("Route/"+r.Name, "edge termination speaks HTTP to pods that answer HTTPS only")
			}
			if r.Spec.TLS.Termination == "passthrough" && r.Spec.Path != "" {
				v.add("Route/"+r.Name, "a passthrough Route cannot route by path")
			}
		}
		if errs := validation.IsDNS1123Subdomain(r.Spec.Host); len(errs) > 0 {
			v.add("Route/"+r.Name, "host: %s", strings.Join(errs, "; "))
		}
	}
	for _, s := range o.services {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			for _, p := range s.Spec.Ports {
				if p.Protocol != corev1.ProtocolTCP || p.TargetPort.String() != "interconnect" {
					v.add("Service/"+s.Name, "a LoadBalancer for %s/%s: only the interconnect, TCP", p.Protocol, p.TargetPort.String())
				}
			}
		}
	}
}

var routeURL = regexp.MustCompile(`^nats-route://([a-z0-9-]+)-([0-9]+)\.([a-z0-9-]+)\.([a-z0-9-]+)\.svc:([0-9]+)$`)

// checkNATS: with NATS embedded, every pod routes to every StatefulSet pod, by a name that
// the headless Service gives it and on the port its container opens.
func checkNATS(v *violations, o *objects) {
	for _, p := range o.pods() {
		if !p.longRun {
			continue
		}
		env := envOf(p.spec.Containers[0])
		routes, embedded := env["SOCLE_NATS_ROUTES"]
		if !embedded {
			if _, ok := env["SOCLE_NATS_URL"]; !ok {
				v.add(p.owner, "neither SOCLE_NATS_ROUTES nor SOCLE_NATS_URL: each pod would be a NATS of its own")
			}
			continue
		}
		want := 0
		for _, st := range o.statefulSets {
			want += int(*st.Spec.Replicas)
		}
		list := strings.Split(routes.Value, ",")
		if len(list) != want {
			v.add(p.owner, "%d NATS routes for %d StatefulSet pods", len(list), want)
		}
		for _, r := range list {
			m := routeURL.FindStringSubmatch(r)
			if m == nil {
				v.add(p.owner, "NATS route %q is not nats-route://<pod>.<service>.<namespace>.svc:<port>", r)
				continue
			}
			ordinal, _ := strconv.Atoi(m[2])
			found := false
			for _, st := range o.statefulSets {
				if st.Name == m[1] && st.Spec.ServiceName == m[3] && ordinal < int(*st.Spec.Replicas) &&
					hasPort(st.Spec.Template.Spec, m[5]) && portName(st.Spec.Template.Spec, m[5]) == "nats-route" {
					found = true
				}
			}
			if !found {
				v.add(p.owner, "NATS route %s names no pod of a StatefulSet with that headless Service and port", r)
			}
		}
		if !hasPort(p.spec, "nats-route") {
			v.add(p.owner, "routes to the NATS cluster without a nats-route port of its own")
		}
	}
}

func portName(spec corev1.PodSpec, number string) string {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if strconv.Itoa(int(p.ContainerPort)) == number {
				return p.Name
			}
		}
	}
	return ""
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// socleMetrics are the metric names socle's code registers (internal/**/*.go): what the
// alerts may use.
var socleMetrics = func() map[string]bool {
	names := map[string]bool{}
	re := regexp.MustCompile(`"(socle_[a-z0-9_]+)"`)
	filepath.WalkDir(filepath.Join("..", "internal"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "prometheus.") {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				names[m[1]] = true
			}
		}
		return nil
	})
	return names
}()

var (
	exprMetric = regexp.MustCompile(`\bsocle_[a-z0-9_]+`)
	matcher    = regexp.MustCompile(`\b(job|pod)=~"([^"]+)"`)
)

// checkMonitoring: the ServiceMonitor scrapes Services that have the ops port; every alert
// has a severity and a description, and names only metrics socle registers.
func checkMonitoring(v *violations, o *objects) {
	for _, sm := range o.monitors {
		scraped := 0
		for _, s := range o.services {
			if selects(&sm.Spec.Selector, labels.Set(s.Labels)) {
				for _, p := range s.Spec.Ports {
					if p.Name == sm.Spec.Endpoints[0].Port {
						scraped++
					}
				}
			}
		}
		if scraped == 0 {
			v.add("ServiceMonitor/"+sm.Name, "selects no Service with a %q port", sm.Spec.Endpoints[0].Port)
		}
		for _, e := range sm.Spec.Endpoints {
			if e.Scheme != "https" || e.Path != "/metrics" {
				v.add("ServiceMonitor/"+sm.Name, "scrapes %s %s: the ops listener serves HTTPS /metrics", e.Scheme, e.Path)
			}
			if e.TLSConfig.CA == nil && !e.TLSConfig.InsecureSkipVerify {
				v.add("ServiceMonitor/"+sm.Name, "no CA to check the ops listener's certificate")
			}
		}
	}
	// The alerts' selectors: job=~ must match the scraped Services, pod=~ the workloads' pods
	// and never the database's (CloudNativePG names its pods <cluster>-<n>).
	var scrapedServices, podNames, dbPods []string
	for _, s := range o.services {
		if s.Spec.ClusterIP != corev1.ClusterIPNone && s.Spec.Type == corev1.ServiceTypeClusterIP {
			scrapedServices = append(scrapedServices, s.Name)
		}
	}
	for _, st := range o.statefulSets {
		podNames = append(podNames, st.Name+"-0")
	}
	for _, d := range o.deployments {
		podNames = append(podNames, d.Name+"-7d9f8b6c5-x2x4z")
	}
	for _, cl := range o.clusters {
		dbPods = append(dbPods, cl.Name+"-1")
	}
	for _, r := range o.rules {
		for _, g := range r.Spec.Groups {
			for _, rule := range g.Rules {
				id := "PrometheusRule/" + r.Name + " " + rule.Alert
				for _, m := range matcher.FindAllStringSubmatch(rule.Expr, -1) {
					re, err := regexp.Compile("^(?:" + m[2] + ")$")
					if err != nil {
						v.add(id, "%s=~%q: %v", m[1], m[2], err)
						continue
					}
					want, never := podNames, dbPods
					if m[1] == "job" {
						want, never = scrapedServices, nil
					} else if m[1] != "pod" {
						continue
					}
					for _, name := range want {
						if !re.MatchString(name) {
							v.add(id, "%s=~%q does not match %s", m[1], m[2], name)
						}
					}
					for _, name := range never {
						if re.MatchString(name) {
							v.add(id, "%s=~%q matches the database's pod %s", m[1], m[2], name)
						}
					}
				}
			}
		}
	}
	for _, r := range o.rules {
		n := 0
		for _, g := range r.Spec.Groups {
			for _, rule := range g.Rules {
				n++
				id := "PrometheusRule/" + r.Name + " " + rule.Alert
				if rule.Alert == "" || rule.Expr == "" {
					v.add(id, "an alert needs a name and an expression")
				}
				if s := rule.Labels["severity"]; s != "critical" && s != "warning" {
					v.add(id, "severity %q", s)
				}
				if rule.Annotations["summary"] == "" || rule.Annotations["description"] == "" {
					v.add(id, "no summary or description")
				}
				for _, m := range exprMetric.FindAllString(rule.Expr, -1) {
					base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
					if !socleMetrics[m] && !socleMetrics[base] {
						v.add(id, "uses %s, which socle does not register", m)
					}
				}
				if strings.Count(rule.Expr, "(") != strings.Count(rule.Expr, ")") || strings.Count(rule.Expr, "{") != strings.Count(rule.Expr, "}") {
					v.add(id, "unbalanced expression %s", rule.Expr)
				}
			}
		}
		if n == 0 {
			v.add("PrometheusRule/"+r.Name, "no alerts")
		}
	}
}

// checkDatabase: socle's pods read SOCLE_DATABASE_URL from a Secret, the CloudNativePG
// Cluster's app Secret when the chart renders the Cluster; the Cluster's own database and
// owner are socle.
func checkDatabase(v *violations, o *objects, ps []pod) {
	for _, p := range ps {
		for _, c := range p.spec.Containers {
			e, ok := envOf(c)["SOCLE_DATABASE_URL"]
			if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				v.add(p.owner, "SOCLE_DATABASE_URL is not read from a Secret")
				continue
			}
			for _, cl := range o.clusters {
				if ref := e.ValueFrom.SecretKeyRef; ref.Name != cl.Name+"-app" || ref.Key != "uri" {
					v.add(p.owner, "reads the database URL from %s/%s, not the Cluster's %s-app/uri", ref.Name, ref.Key, cl.Name)
				}
			}
		}
	}
	for _, cl := range o.clusters {
		if cl.Spec.Bootstrap.InitDB.Database != "socle" || cl.Spec.Bootstrap.InitDB.Owner != "socle" || cl.Spec.Instances < 1 {
			v.add("Cluster/"+cl.Name, "want database and owner socle and at least one instance")
		}
		if cl.Spec.Storage.Size == "" {
			v.add("Cluster/"+cl.Name, "no storage size")
		}
	}
	for _, c := range o.certificates {
		if c.Spec.SecretName == "" || c.Spec.IssuerRef.Name == "" {
			v.add("Certificate/"+c.Name, "no secretName or issuerRef")
		}
		for _, n := range c.Spec.DNSNames {
			if errs := validation.IsWildcardDNS1123Subdomain(n); len(errs) > 0 && len(validation.IsDNS1123Subdomain(n)) > 0 {
				v.add("Certificate/"+c.Name, "DNS name %s: %s", n, strings.Join(errs, "; "))
			}
		}
		used := false
		for _, p := range ps {
			for _, vol := range p.spec.Volumes {
				used = used || (vol.Secret != nil && vol.Secret.SecretName == c.Spec.SecretName)
			}
		}
		if !used {
			v.add("Certificate/"+c.Name, "writes Secret %s, which no pod mounts", c.Spec.SecretName)
		}
	}
}

// publicURL reads a pod's SOCLE_PUBLIC_URL as socle's own check does (https://host[:port]).
func publicURL(c corev1.Container) (*url.URL, error) {
	u, err := url.Parse(envOf(c)["SOCLE_PUBLIC_URL"].Value)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("SOCLE_PUBLIC_URL %q: want https://host[:port]", envOf(c)["SOCLE_PUBLIC_URL"].Value)
	}
	return u, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
