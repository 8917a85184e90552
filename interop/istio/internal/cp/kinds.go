package cp

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	telemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	"istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/controllers"
	"istio.io/istio/pkg/kube/kclient"
)

// kindHandler knows how to write one kind to the fake cluster and how to observe it
// through an informer (the same shared-informer machinery istiod reads from).
type kindHandler struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	// order: lower is created first and deleted last.
	order int

	create    func(c kube.Client, o runtime.Object) (runtime.Object, error)
	update    func(c kube.Client, o runtime.Object) (runtime.Object, error)
	delete    func(c kube.Client, name, ns string) error
	newReader func(c kube.Client) func(name, ns string) (runtime.Object, bool)
	// noReader: istiod's informer for this kind uses an ObjectTransform; a second, untransformed
	// reader on the shared informer would conflict, so writes of this kind are only covered by
	// the settle wait.
	noReader bool
}

func handlerFor[T controllers.ComparableObject](group, version, kind string, namespaced bool, order int) kindHandler {
	return kindHandler{
		gvk:        schema.GroupVersionKind{Group: group, Version: version, Kind: kind},
		namespaced: namespaced,
		order:      order,
		create: func(c kube.Client, o runtime.Object) (runtime.Object, error) {
			return kclient.NewWriteClient[T](c).Create(o.(T))
		},
		update: func(c kube.Client, o runtime.Object) (runtime.Object, error) {
			return kclient.NewWriteClient[T](c).Update(o.(T))
		},
		delete: func(c kube.Client, name, ns string) error {
			return kclient.NewWriteClient[T](c).Delete(name, ns)
		},
		newReader: func(c kube.Client) func(name, ns string) (runtime.Object, bool) {
			r := kclient.New[T](c)
			return func(name, ns string) (runtime.Object, bool) {
				v := r.Get(name, ns)
				if controllers.IsNil(v) {
					return nil, false
				}
				return v, true
			}
		},
	}
}

func withoutReader(h kindHandler) kindHandler {
	h.noReader = true
	return h
}

// supportedKinds are the kinds accepted in object files. Istio CRDs are stored at v1 (the
// version istiod's informers watch); documents with another Istio API version are converted.
var supportedKinds = func() map[schema.GroupKind]kindHandler {
	hs := []kindHandler{
		handlerFor[*corev1.Namespace]("", "v1", "Namespace", false, 0),
		withoutReader(handlerFor[*corev1.Node]("", "v1", "Node", false, 1)),
		handlerFor[*corev1.ServiceAccount]("", "v1", "ServiceAccount", true, 2),
		handlerFor[*corev1.ConfigMap]("", "v1", "ConfigMap", true, 2),
		handlerFor[*corev1.Secret]("", "v1", "Secret", true, 2),
		handlerFor[*corev1.Service]("", "v1", "Service", true, 3),
		handlerFor[*discoveryv1.EndpointSlice]("discovery.k8s.io", "v1", "EndpointSlice", true, 4),
		handlerFor[*networkingv1.ServiceEntry]("networking.istio.io", "v1", "ServiceEntry", true, 3),
		handlerFor[*networkingv1.WorkloadEntry]("networking.istio.io", "v1", "WorkloadEntry", true, 4),
		handlerFor[*networkingv1.DestinationRule]("networking.istio.io", "v1", "DestinationRule", true, 3),
		handlerFor[*networkingv1.VirtualService]("networking.istio.io", "v1", "VirtualService", true, 3),
		handlerFor[*networkingv1.Sidecar]("networking.istio.io", "v1", "Sidecar", true, 3),
		handlerFor[*networkingv1.Gateway]("networking.istio.io", "v1", "Gateway", true, 3),
		handlerFor[*securityv1.AuthorizationPolicy]("security.istio.io", "v1", "AuthorizationPolicy", true, 3),
		handlerFor[*securityv1.PeerAuthentication]("security.istio.io", "v1", "PeerAuthentication", true, 3),
		handlerFor[*securityv1.RequestAuthentication]("security.istio.io", "v1", "RequestAuthentication", true, 3),
		handlerFor[*telemetryv1.Telemetry]("telemetry.istio.io", "v1", "Telemetry", true, 3),
		handlerFor[*gatewayv1.GatewayClass]("gateway.networking.k8s.io", "v1", "GatewayClass", false, 2),
		handlerFor[*gatewayv1.Gateway]("gateway.networking.k8s.io", "v1", "Gateway", true, 3),
		handlerFor[*gatewayv1.HTTPRoute]("gateway.networking.k8s.io", "v1", "HTTPRoute", true, 4),
		handlerFor[*corev1.Pod]("", "v1", "Pod", true, 5),
	}
	m := map[schema.GroupKind]kindHandler{}
	for _, h := range hs {
		m[h.gvk.GroupKind()] = h
	}
	return m
}()

var istioGroups = map[string]bool{
	"networking.istio.io": true,
	"security.istio.io":   true,
	"telemetry.istio.io":  true,
}

func supportedKindList() string {
	var out []string
	for gk, h := range supportedKinds {
		gv := h.gvk.GroupVersion().String()
		out = append(out, fmt.Sprintf("%s %s", gv, gk.Kind))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
