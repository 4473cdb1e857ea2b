// kstatus reads a JSON array of Kubernetes objects on stdin and prints, as a JSON array in the same order, the status
// that sigs.k8s.io/cli-utils' kstatus computes for each: what Flux's health checks (Kustomization `wait` and
// `healthChecks`) decide on. test/chart/chart.test.ts runs it against the objects the operator writes.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run() error {
	var objects []json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&objects); err != nil {
		return fmt.Errorf("reading a JSON array of objects: %w", err)
	}
	results := make([]result, 0, len(objects))
	for i, raw := range objects {
		// UnmarshalJSON keeps integers as int64, which kstatus reads generation and observedGeneration as.
		var object unstructured.Unstructured
		if err := object.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("object %d: %w", i, err)
		}
		computed, err := status.Compute(&object)
		if err != nil {
			return fmt.Errorf("object %d (%s %s): %w", i, object.GetKind(), object.GetName(), err)
		}
		results = append(results, result{Status: computed.Status.String(), Message: computed.Message})
	}
	return json.NewEncoder(os.Stdout).Encode(results)
}
