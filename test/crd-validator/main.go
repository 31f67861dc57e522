// Command crd-validator checks CustomResourceDefinitions and custom objects with the Kubernetes API server's
// own validation code (k8s.io/apiextensions-apiserver), so the project's CRD tests need no API server.
//
// Usage: crd-validator CRD.yaml < objects.json
// objects.json is a JSON array of {"name": "...", "object": {...}}. The output is one JSON document:
// {"crdErrors": [...], "results": [{"name": "...", "errors": [...], "object": {...}}]} (object: pruned and defaulted). An object is checked as
// `kubectl apply` with strict field validation would have it: unknown fields are errors, defaults are
// applied, then the OpenAPI schema and the x-kubernetes-validations (CEL) rules run.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

type input struct {
	Name   string                 `json:"name"`
	Object map[string]interface{} `json:"object"`
}

type result struct {
	Name   string   `json:"name"`
	Errors []string `json:"errors"`
	// The object after pruning and defaulting, as the API server would store it.
	Object map[string]interface{} `json:"object"`
}

type output struct {
	CRDErrors []string `json:"crdErrors"`
	Results   []result `json:"results"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crd-validator:", err)
		os.Exit(2)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf("usage: crd-validator CRD.yaml < objects.json")
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		return err
	}
	var v1crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &v1crd); err != nil {
		return fmt.Errorf("%s: %w", os.Args[1], err)
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(&v1crd)
	var crd apiextensions.CustomResourceDefinition
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1crd, &crd, nil); err != nil {
		return err
	}
	out := output{CRDErrors: []string{}, Results: []result{}}
	for _, e := range crdvalidation.ValidateCustomResourceDefinition(context.Background(), &crd) {
		out.CRDErrors = append(out.CRDErrors, e.Error())
	}
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	var objects []input
	if err := json.Unmarshal(stdin, &objects); err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	for _, o := range objects {
		errs, err := validate(&crd, o.Object)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Name, err)
		}
		out.Results = append(out.Results, result{Name: o.Name, Errors: errs, Object: o.Object})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func schemaOf(crd *apiextensions.CustomResourceDefinition, version string) *apiextensions.JSONSchemaProps {
	for _, v := range crd.Spec.Versions {
		if v.Name == version && v.Schema != nil {
			return v.Schema.OpenAPIV3Schema
		}
	}
	if crd.Spec.Validation != nil {
		return crd.Spec.Validation.OpenAPIV3Schema
	}
	return nil
}

func validate(crd *apiextensions.CustomResourceDefinition, obj map[string]interface{}) ([]string, error) {
	errs := []string{}
	apiVersion, _ := obj["apiVersion"].(string)
	version := apiVersion
	if i := len(crd.Spec.Group) + 1; len(apiVersion) > i {
		version = apiVersion[i:]
	}
	if apiVersion != crd.Spec.Group+"/"+version || obj["kind"] != crd.Spec.Names.Kind {
		return append(errs, fmt.Sprintf("apiVersion/kind %q/%v is not served by this CRD", apiVersion, obj["kind"])), nil
	}
	props := schemaOf(crd, version)
	if props == nil {
		return append(errs, fmt.Sprintf("version %q is not served by this CRD", version)), nil
	}
	s, err := structuralschema.NewStructural(props)
	if err != nil {
		return nil, err
	}
	unknown := structuralpruning.PruneWithOptions(obj, s, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, p := range unknown {
		errs = append(errs, fmt.Sprintf("%s: unknown field", p))
	}
	structuraldefaulting.Default(obj, s)
	validator, _, err := apiservervalidation.NewSchemaValidator(props)
	if err != nil {
		return nil, err
	}
	for _, e := range apiservervalidation.ValidateCustomResource(nil, obj, validator) {
		errs = append(errs, e.Error())
	}
	celValidator := cel.NewValidator(s, true, celconfig.PerCallLimit)
	if celValidator != nil {
		celErrs, _ := celValidator.Validate(context.Background(), nil, s, obj, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range celErrs {
			errs = append(errs, e.Error())
		}
	}
	return errs, nil
}
