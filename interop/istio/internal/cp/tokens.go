package cp

import (
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"istio.io/istio/pkg/config/schema/gvr"
	"istio.io/istio/security/pkg/k8s/tokenreview"
)

// Test token format (the whole bearer token string):
//
//	<namespace>/<serviceaccount>/<pod-name>  a pod-bound service account token. Valid while a pod
//	                                          with that name exists in <namespace> and runs as
//	                                          <serviceaccount>; the review carries the pod's name
//	                                          and UID like a real bound token.
//	<namespace>/<serviceaccount>             an unbound service account token (no pod info).
//
// Anything else is answered "not authenticated". The requested audiences are echoed back.

// installTokenReviewReactor makes `create tokenreviews` on the fake clientset behave like the
// API server's TokenReview for the test token format above.
func installTokenReviewReactor(cs *fake.Clientset) {
	tracker := cs.Tracker()
	cs.PrependReactor("create", "tokenreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		tr := action.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview).DeepCopy()
		tr.Status = reviewToken(tracker, tr.Spec.Token)
		if tr.Status.Authenticated {
			tr.Status.Audiences = tr.Spec.Audiences
		}
		return true, tr, nil
	})
}

func reviewToken(tracker k8stesting.ObjectTracker, token string) authenticationv1.TokenReviewStatus {
	unauth := func(msg string) authenticationv1.TokenReviewStatus {
		// The API server reports an invalid token as authenticated=false with an error string.
		return authenticationv1.TokenReviewStatus{Authenticated: false, Error: msg}
	}
	parts := strings.Split(token, "/")
	if len(parts) != 2 && len(parts) != 3 {
		return unauth("[invalid bearer token, token not in test format <namespace>/<serviceaccount>[/<pod>]]")
	}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, ": ") {
			return unauth("[invalid bearer token, empty or malformed component]")
		}
	}
	ns, sa := parts[0], parts[1]
	user := authenticationv1.UserInfo{
		Username: "system:serviceaccount:" + ns + ":" + sa,
		UID:      "sa-uid-" + ns + "-" + sa,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	if len(parts) == 3 {
		podName := parts[2]
		o, err := tracker.Get(gvr.Pod, ns, podName)
		if err != nil {
			return unauth("[invalid bearer token, pod " + ns + "/" + podName + " not found]")
		}
		pod := o.(*corev1.Pod)
		podSA := pod.Spec.ServiceAccountName
		if podSA == "" {
			podSA = "default"
		}
		if podSA != sa {
			return unauth("[invalid bearer token, pod " + ns + "/" + podName + " runs as " + podSA + ", not " + sa + "]")
		}
		user.Extra = map[string]authenticationv1.ExtraValue{
			tokenreview.PodNameKey: {pod.Name},
			tokenreview.PodUIDKey:  {string(pod.UID)},
		}
	}
	return authenticationv1.TokenReviewStatus{Authenticated: true, User: user}
}
