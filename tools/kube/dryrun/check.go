package dryrun

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Outcome of one object.
type Outcome string

const (
	Accepted Outcome = "accepted"
	Refused  Outcome = "refused"
	Skipped  Outcome = "skipped"
)

// Result is the API server's answer for one object, or for the Pod built from a workload's pod
// template (Derived names the workload then).
type Result struct {
	File, Source string
	Kind, Name   string
	Namespace    string
	Derived      string
	Outcome      Outcome
	Reason       string
	Warnings     []string
}

// Label is "Kind" or "Pod (from Deployment/x)".
func (r Result) Label() string {
	if r.Derived != "" {
		return r.Kind + " (from " + r.Derived + ")"
	}
	return r.Kind
}

// Report is what Check found.
type Report struct {
	Results       []Result
	CRDs          []string // CRDs installed, with the module they came from
	Namespaces    []string // namespaces created, labelled Pod Security "restricted"
	ServiceAccnts []string // ServiceAccounts of the manifests created for real, so Pods may use them
}

// Refused lists the refused results.
func (r *Report) Refused() []Result {
	var out []Result
	for _, x := range r.Results {
		if x.Outcome == Refused {
			out = append(out, x)
		}
	}
	return out
}

// CheckOptions.
type CheckOptions struct {
	// Namespace for namespaced objects that name none (Helm output usually names none).
	Namespace string
}

// warnings collects the Warning headers of the API server's answers (RFC 7234 §5.5 as the
// API server uses it: deprecations, and Pod Security's verdict on workloads, which it only warns
// about); requests are made one at a time, so take() after each gives that request's warnings.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	w.msgs = append(w.msgs, text)
	w.mu.Unlock()
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

// podTemplatePath gives, for each workload kind, where its pod template is: a Pod built from it
// is dry-run too, because Pod Security admission only *warns* about a workload whose template
// violates the namespace's level; it refuses the Pods its controller would create later.
var podTemplatePath = map[schema.GroupKind][]string{
	{Group: "apps", Kind: "Deployment"}:        {"spec", "template"},
	{Group: "apps", Kind: "StatefulSet"}:       {"spec", "template"},
	{Group: "apps", Kind: "DaemonSet"}:         {"spec", "template"},
	{Group: "apps", Kind: "ReplicaSet"}:        {"spec", "template"},
	{Group: "batch", Kind: "Job"}:              {"spec", "template"},
	{Group: "batch", Kind: "CronJob"}:          {"spec", "jobTemplate", "spec", "template"},
	{Group: "", Kind: "ReplicationController"}: {"spec", "template"},
}

// Check dry-runs the creation of every document on the cluster: first the CRDs the documents
// need are installed and their namespaces created (labelled pod-security.kubernetes.io/enforce
// =restricted, with the default ServiceAccount that no controller-manager creates here), then
// each object is sent with dryRun=All and fieldValidation=Strict, then a Pod built from each
// workload's template.
func Check(ctx context.Context, cfg *rest.Config, docs []Doc, opts CheckOptions) (*Report, error) {
	if opts.Namespace == "" {
		opts.Namespace = "socle"
	}
	w := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cached := memory.NewMemCacheClient(dc)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cached)
	rep := &Report{}

	// Which kinds does the API server not serve yet? Those of a known CRD source get installed.
	needed := map[schema.GroupKind]bool{}
	for _, d := range docs {
		if d.Obj == nil {
			continue
		}
		gvk := d.Obj.GroupVersionKind()
		if _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); meta.IsNoMatchError(err) {
			if _, ok := sourceFor(gvk.Group); ok {
				needed[gvk.GroupKind()] = true
			}
		}
	}
	if len(needed) > 0 {
		rep.CRDs, err = installCRDs(ctx, dyn, needed)
		if err != nil {
			return rep, err
		}
		// Established means served, but discovery may trail it by a moment: wait until every
		// installed kind maps, for at most 30 s.
		deadline := time.Now().Add(30 * time.Second)
		for {
			mapper.Reset()
			missing := 0
			for gk := range needed {
				if _, err := mapper.RESTMapping(gk); err != nil {
					missing++
				}
			}
			if missing == 0 || time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				return rep, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}

	type planned struct {
		doc     Doc
		mapping *meta.RESTMapping
		ns      string
		result  int // index in rep.Results
	}
	var plan []planned
	namespaces := map[string]bool{}
	for _, d := range docs {
		res := Result{File: d.File, Source: d.Source}
		if d.Err != nil {
			res.Kind, res.Name = "?", fmt.Sprintf("document %d", d.Index)
			res.Outcome, res.Reason = Refused, d.Err.Error()
			rep.Results = append(rep.Results, res)
			continue
		}
		gvk := d.Obj.GroupVersionKind()
		res.Kind, res.Name = gvk.Kind, d.Obj.GetName()
		if gvk.Kind == "" || gvk.Version == "" {
			res.Kind, res.Outcome, res.Reason = "?", Refused, fmt.Sprintf("document %d has no apiVersion or kind", d.Index)
			rep.Results = append(rep.Results, res)
			continue
		}
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			if note, ok := unavailableGroups[gvk.Group]; ok {
				res.Outcome, res.Reason = Skipped, note
			} else {
				res.Outcome, res.Reason = Refused, fmt.Sprintf("the API server serves no %s: %v", gvk, err)
			}
			rep.Results = append(rep.Results, res)
			continue
		}
		ns := ""
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ns = d.Obj.GetNamespace()
			if ns == "" {
				ns = opts.Namespace
			}
			namespaces[ns] = true
		}
		res.Namespace = ns
		plan = append(plan, planned{doc: d, mapping: mapping, ns: ns, result: len(rep.Results)})
		rep.Results = append(rep.Results, res)
	}

	// Namespaces of the manifests themselves are dry-run before the check creates its own: a
	// Namespace that already exists could not be dry-run created.
	dryRun := func(p planned, obj *unstructured.Unstructured) (Outcome, string, []string) {
		obj = obj.DeepCopy()
		if p.ns != "" {
			obj.SetNamespace(p.ns)
		}
		w.take()
		_, err := dyn.Resource(p.mapping.Resource).Namespace(p.ns).Create(ctx, obj,
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: metav1.FieldValidationStrict})
		warns := w.take()
		if err != nil {
			return Refused, reason(err), warns
		}
		return Accepted, "", warns
	}
	for _, p := range plan {
		if p.mapping.GroupVersionKind.GroupKind() == (schema.GroupKind{Kind: "Namespace"}) {
			r := &rep.Results[p.result]
			r.Outcome, r.Reason, r.Warnings = dryRun(p, p.doc.Obj)
		}
	}
	for ns := range namespaces {
		if err := ensureNamespace(ctx, dyn, ns); err != nil {
			return rep, err
		}
		rep.Namespaces = append(rep.Namespaces, ns)
	}

	var accounts []planned
	for _, p := range plan {
		gk := p.mapping.GroupVersionKind.GroupKind()
		if gk == (schema.GroupKind{Kind: "Namespace"}) {
			continue
		}
		r := &rep.Results[p.result]
		r.Outcome, r.Reason, r.Warnings = dryRun(p, p.doc.Obj)
		if gk == (schema.GroupKind{Kind: "ServiceAccount"}) && r.Outcome == Accepted && p.doc.Obj.GetName() != "default" {
			accounts = append(accounts, p)
		}
	}
	// A Pod may only name a ServiceAccount that exists (ServiceAccount admission): those the
	// manifests define are created for real once the API server accepted them all — after
	// every dry run, as several files (value sets) define the same account in one namespace.
	for _, p := range accounts {
		sa := p.doc.Obj.DeepCopy()
		sa.SetNamespace(p.ns)
		if _, err := dyn.Resource(p.mapping.Resource).Namespace(p.ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			return rep, fmt.Errorf("create ServiceAccount %s/%s: %w", p.ns, sa.GetName(), err)
		}
		rep.ServiceAccnts = append(rep.ServiceAccnts, p.ns+"/"+sa.GetName())
	}

	// Then the Pods the workloads' controllers would create.
	podMapping, err := mapper.RESTMapping(schema.GroupKind{Kind: "Pod"}, "v1")
	if err != nil {
		return rep, fmt.Errorf("pods: %w", err)
	}
	for _, p := range plan {
		gk := p.mapping.GroupVersionKind.GroupKind()
		path, ok := podTemplatePath[gk]
		if !ok {
			continue
		}
		res := Result{File: p.doc.File, Source: p.doc.Source, Kind: "Pod", Namespace: p.ns,
			Derived: gk.Kind + "/" + p.doc.Obj.GetName()}
		pod, err := podFromTemplate(p.doc.Obj, gk, path)
		if err != nil {
			res.Name, res.Outcome, res.Reason = p.doc.Obj.GetName(), Refused, err.Error()
		} else {
			res.Name = pod.GetName()
			res.Outcome, res.Reason, res.Warnings = dryRun(planned{doc: p.doc, mapping: podMapping, ns: p.ns}, pod)
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// podFromTemplate builds the Pod a workload's controller would create from its template.
func podFromTemplate(obj *unstructured.Unstructured, gk schema.GroupKind, path []string) (*unstructured.Unstructured, error) {
	tmpl, found, err := unstructured.NestedMap(obj.Object, path...)
	if err != nil || !found {
		return nil, fmt.Errorf("no pod template at .%s (%v)", strings.Join(path, "."), err)
	}
	spec, _, _ := unstructured.NestedMap(tmpl, "spec")
	name := obj.GetName()
	if gk.Kind == "StatefulSet" {
		name += "-0" // the first ordinal, as the StatefulSet controller names it
		// The StatefulSet controller adds a volume for each claim template (claim
		// <template>-<set>-<ordinal>); without it the containers' mounts would name no volume.
		claims, _, _ := unstructured.NestedSlice(obj.Object, "spec", "volumeClaimTemplates")
		vols, _, _ := unstructured.NestedSlice(spec, "volumes")
		for _, c := range claims {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			cname, _, _ := unstructured.NestedString(cm, "metadata", "name")
			present := false
			for _, v := range vols {
				if vm, ok := v.(map[string]any); ok && vm["name"] == cname {
					present = true
				}
			}
			if !present {
				vols = append(vols, map[string]any{"name": cname,
					"persistentVolumeClaim": map[string]any{"claimName": cname + "-" + obj.GetName() + "-0"}})
			}
		}
		if len(vols) > 0 {
			spec["volumes"] = vols
		}
	} else {
		name += "-dryrun"
	}
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"spec":       spec,
	}}
	if md, ok := tmpl["metadata"].(map[string]any); ok {
		if l, ok := md["labels"].(map[string]any); ok {
			_ = unstructured.SetNestedMap(pod.Object, l, "metadata", "labels")
		}
		if a, ok := md["annotations"].(map[string]any); ok {
			_ = unstructured.SetNestedMap(pod.Object, a, "metadata", "annotations")
		}
	}
	pod.SetName(name)
	return pod, nil
}

// ensureNamespace creates the namespace, or labels an existing one, with Pod Security
// "restricted" enforced (https://kubernetes.io/docs/concepts/security/pod-security-admission/),
// and creates its default ServiceAccount, which the controller-manager would otherwise create.
func ensureNamespace(ctx context.Context, dyn dynamic.Interface, name string) error {
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	labels := map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	}
	ns, err := dyn.Resource(nsGVR).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		ns = &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}
		ns.SetName(name)
		ns.SetLabels(labels)
		if _, err := dyn.Resource(nsGVR).Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	case err != nil:
		return fmt.Errorf("namespace %s: %w", name, err)
	default:
		l := ns.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range labels {
			l[k] = v
		}
		ns.SetLabels(l)
		if _, err := dyn.Resource(nsGVR).Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("label namespace %s: %w", name, err)
		}
	}
	saGVR := schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	sa := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount"}}
	sa.SetName("default")
	if _, err := dyn.Resource(saGVR).Namespace(name).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("default ServiceAccount of %s: %w", name, err)
	}
	slog.Debug("namespace ready", "namespace", name)
	return nil
}

// reason is the API server's message for a refusal, on one line.
func reason(err error) string {
	var msg string
	if s, ok := err.(apierrors.APIStatus); ok {
		msg = s.Status().Message
		if msg == "" {
			msg = err.Error()
		}
	} else {
		msg = err.Error()
	}
	return strings.Join(strings.Fields(msg), " ")
}

// Print writes the table (file, kind, name, result), then the warnings and the full reason of
// each refusal.
func (r *Report) Print(out io.Writer) {
	if len(r.CRDs) > 0 {
		fmt.Fprintln(out, "CRDs installed from the Go module cache:")
		for _, c := range r.CRDs {
			fmt.Fprintln(out, "  "+c)
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tKIND\tNAME\tRESULT")
	for _, x := range r.Results {
		res := string(x.Outcome)
		if len(x.Warnings) > 0 {
			res += fmt.Sprintf(" (%d warning(s))", len(x.Warnings))
		}
		if x.Outcome == Refused {
			res += ": " + short(x.Reason, 90)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", filepath.Base(x.File), x.Label(), x.Name, res)
	}
	tw.Flush()
	for _, x := range r.Results {
		for _, wmsg := range x.Warnings {
			fmt.Fprintf(out, "warning: %s %s %s: %s\n", filepath.Base(x.File), x.Label(), x.Name, wmsg)
		}
	}
	for _, x := range r.Results {
		if x.Outcome == Skipped {
			fmt.Fprintf(out, "skipped: %s %s %s: %s\n", filepath.Base(x.File), x.Label(), x.Name, x.Reason)
		}
	}
	for _, x := range r.Refused() {
		src := ""
		if x.Source != "" {
			src = " [" + x.Source + "]"
		}
		fmt.Fprintf(out, "REFUSED: %s%s %s %s/%s: %s\n", x.File, src, x.Label(), x.Namespace, x.Name, x.Reason)
	}
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
