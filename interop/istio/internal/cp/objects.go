package cp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"istio.io/istio/pkg/kube"
)

// objKey identifies an object in the managed set: (group/kind, namespace, name).
type objKey struct {
	GroupKind schema.GroupKind
	Namespace string
	Name      string
}

func (k objKey) String() string {
	kind := k.GroupKind.Kind
	if k.GroupKind.Group != "" {
		kind += "." + k.GroupKind.Group
	}
	if k.Namespace == "" {
		return kind + " " + k.Name
	}
	return kind + " " + k.Namespace + "/" + k.Name
}

// object is one parsed document.
type object struct {
	key     objKey
	handler kindHandler
	// canonical is the JSON of the object as the user wrote it (after version/namespace
	// normalisation); two submissions of the same key are "unchanged" iff these are equal.
	canonical []byte
	// obj is the typed object that is (or will be) written to the fake cluster.
	obj runtime.Object
}

var strictDecoder = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, kube.IstioScheme, kube.IstioScheme,
	kjson.SerializerOptions{Strict: true})

// parseObjects parses a multi-document YAML (or JSON) stream. Empty documents are skipped;
// `kind: List` documents are flattened. Errors name the document (1-based) and the object.
func parseObjects(data []byte) ([]*object, error) {
	r := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*object
	seen := map[objKey]int{}
	for doc := 1; ; doc++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: reading YAML: %v", doc, err)
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: invalid YAML: %v", doc, err)
		}
		js = bytes.TrimSpace(js)
		if len(js) == 0 || string(js) == "null" {
			continue
		}
		objs, err := parseDocument(js)
		if err != nil {
			return nil, fmt.Errorf("document %d: %v", doc, err)
		}
		for _, o := range objs {
			if prev, dup := seen[o.key]; dup {
				return nil, fmt.Errorf("document %d: duplicate object %s (first defined in document %d)", doc, o.key, prev)
			}
			seen[o.key] = doc
			out = append(out, o)
		}
	}
	return out, nil
}

func parseDocument(js []byte) ([]*object, error) {
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("document is not a YAML mapping: %v", err)
	}
	apiVersion, _ := m["apiVersion"].(string)
	kindName, _ := m["kind"].(string)
	if apiVersion == "" || kindName == "" {
		return nil, fmt.Errorf("apiVersion and kind are required")
	}
	if kindName == "List" && apiVersion == "v1" {
		items, _ := m["items"].([]any)
		var out []*object
		for i, it := range items {
			b, _ := json.Marshal(it)
			objs, err := parseDocument(b)
			if err != nil {
				return nil, fmt.Errorf("List item %d: %v", i, err)
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("invalid apiVersion %q: %v", apiVersion, err)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: kindName}
	h, ok := supportedKinds[gk]
	if !ok {
		return nil, fmt.Errorf("unsupported kind %s %s (supported: %s)", apiVersion, kindName, supportedKindList())
	}
	if gv.Version != h.gvk.Version {
		if !istioGroups[gv.Group] {
			return nil, fmt.Errorf("unsupported apiVersion %s for kind %s (use %s)", apiVersion, kindName, h.gvk.GroupVersion())
		}
		// Istio serves all its CRD versions from the same schema; store at v1 like the API server does.
		m["apiVersion"] = h.gvk.GroupVersion().String()
	}
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		return nil, fmt.Errorf("%s: metadata is required", kindName)
	}
	name, _ := meta["name"].(string)
	if name == "" {
		return nil, fmt.Errorf("%s: metadata.name is required", kindName)
	}
	ns, _ := meta["namespace"].(string)
	if h.namespaced && ns == "" {
		ns = "default"
		meta["namespace"] = ns
	}
	if !h.namespaced && ns != "" {
		return nil, fmt.Errorf("%s %s is cluster-scoped; metadata.namespace must be empty", kindName, name)
	}
	key := objKey{GroupKind: gk, Namespace: ns, Name: name}
	canonical, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	obj, _, err := strictDecoder.Decode(canonical, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", key, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(h.gvk)
	return []*object{{key: key, handler: h, canonical: canonical, obj: obj}}, nil
}

// diff is the result of comparing a new object set against the current one.
type diff struct {
	create, update, unchanged []*object
	delete                    []*object
}

func computeDiff(cur map[objKey]*object, next []*object) diff {
	var d diff
	inNext := map[objKey]bool{}
	for _, o := range next {
		inNext[o.key] = true
		old, ok := cur[o.key]
		switch {
		case !ok:
			d.create = append(d.create, o)
		case !bytes.Equal(old.canonical, o.canonical):
			d.update = append(d.update, o)
		default:
			d.unchanged = append(d.unchanged, old)
		}
	}
	for k, o := range cur {
		if !inNext[k] {
			d.delete = append(d.delete, o)
		}
	}
	sortDiff(&d)
	return d
}

// sortDiff orders writes as the API server needs them: namespaces before what lives in
// them on create/update, the reverse on delete.
func sortDiff(d *diff) {
	less := func(s []*object, rev bool) func(i, j int) bool {
		return func(i, j int) bool {
			a, b := s[i], s[j]
			if a.handler.order != b.handler.order {
				return (a.handler.order < b.handler.order) != rev
			}
			return a.key.String() < b.key.String()
		}
	}
	sort.SliceStable(d.create, less(d.create, false))
	sort.SliceStable(d.update, less(d.update, false))
	sort.SliceStable(d.delete, less(d.delete, true))
}

// patchDiff plans creating or updating next, leaving every other object of cur alone.
func patchDiff(cur map[objKey]*object, next []*object) diff {
	var d diff
	for _, o := range next {
		old, ok := cur[o.key]
		switch {
		case !ok:
			d.create = append(d.create, o)
		case !bytes.Equal(old.canonical, o.canonical):
			d.update = append(d.update, o)
		default:
			d.unchanged = append(d.unchanged, old)
		}
	}
	sortDiff(&d)
	return d
}

// deleteDiff plans deleting the objects named by gone; an unknown name is an error.
func deleteDiff(cur map[objKey]*object, gone []*object) (diff, error) {
	var d diff
	for _, o := range gone {
		old, ok := cur[o.key]
		if !ok {
			return diff{}, fmt.Errorf("%s: not in the object set", o.key)
		}
		d.delete = append(d.delete, old)
	}
	sortDiff(&d)
	return d, nil
}

// defaultUID gives pods (which need a UID for the node authorizer and for bound tokens) the
// UID a real API server would: a fresh one on create, the existing one on update.
func defaultUID(o *object, prev *object) {
	pod, ok := o.obj.(*corev1.Pod)
	if !ok || pod.UID != "" {
		return
	}
	if prev != nil {
		if pp, ok := prev.obj.(*corev1.Pod); ok && pp.UID != "" {
			pod.UID = pp.UID
			return
		}
	}
	pod.UID = types.UID(uuid.NewUUID())
}

// renderObjects renders the managed set as a multi-document YAML stream, as submitted
// (after normalisation).
func renderObjects(cur map[objKey]*object) []byte {
	var objs []*object
	for _, o := range cur {
		objs = append(objs, o)
	}
	sort.Slice(objs, func(i, j int) bool {
		if objs[i].handler.order != objs[j].handler.order {
			return objs[i].handler.order < objs[j].handler.order
		}
		return objs[i].key.String() < objs[j].key.String()
	})
	var docs []string
	for _, o := range objs {
		y, err := yaml.JSONToYAML(o.canonical)
		if err != nil {
			continue
		}
		docs = append(docs, string(y))
	}
	return []byte(strings.Join(docs, "---\n"))
}
