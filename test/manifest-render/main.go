// Command manifest-render renders the project's install manifests the way users install them, with the
// libraries kubectl and helm use: `kustomize DIR` (sigs.k8s.io/kustomize/api, as `kubectl apply -k`) and
// `helm CHART [--namespace NS] [--set k=v]...` (helm.sh/helm/v3's loader and template engine, as
// `helm template`; the chart's crds/ come first). Output: the objects as one JSON array on stdout.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

func main() {
	out, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "manifest-render:", err)
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "manifest-render:", err)
		os.Exit(2)
	}
}

func run(args []string) ([]map[string]interface{}, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("usage: manifest-render kustomize DIR | helm CHART [--namespace NS] [--set k=v]...")
	}
	switch args[0] {
	case "kustomize":
		return kustomize(args[1])
	case "helm":
		return helm(args[1], args[2:])
	}
	return nil, fmt.Errorf("unknown mode %q", args[0])
}

func kustomize(dir string) ([]map[string]interface{}, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	text, err := resMap.AsYaml()
	if err != nil {
		return nil, err
	}
	return documents(string(text))
}

func helm(chartDir string, args []string) ([]map[string]interface{}, error) {
	namespace := "default"
	values := map[string]interface{}{}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--namespace":
			i++
			namespace = args[i]
		case "--set":
			i++
			if err := strvals.ParseInto(args[i], values); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unknown option %q", args[i])
		}
	}
	chart, err := loader.Load(chartDir)
	if err != nil {
		return nil, err
	}
	if err := chartutil.ProcessDependencies(chart, values); err != nil {
		return nil, err
	}
	options := chartutil.ReleaseOptions{Name: "pgstow", Namespace: namespace, Revision: 1, IsInstall: true}
	renderValues, err := chartutil.ToRenderValues(chart, values, options, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	rendered, err := engine.Render(chart, renderValues)
	if err != nil {
		return nil, err
	}
	var out []map[string]interface{}
	for _, crd := range chart.CRDObjects() {
		docs, err := documents(string(crd.File.Data))
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	names := make([]string, 0, len(rendered))
	for name := range rendered {
		if !strings.HasSuffix(name, "NOTES.txt") && !strings.Contains(name, "/_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		docs, err := documents(rendered[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, docs...)
	}
	return out, nil
}

func documents(text string) ([]map[string]interface{}, error) {
	var out []map[string]interface{}
	for _, doc := range strings.Split("\n"+text, "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var obj map[string]interface{}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, err
		}
		if obj != nil {
			out = append(out, obj)
		}
	}
	return out, nil
}
