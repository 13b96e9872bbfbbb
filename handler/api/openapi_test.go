package api_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"huzhu/handler/api"
)

// spec is the embedded OpenAPI document, decoded loosely for checking.
type spec struct {
	Paths      map[string]map[string]map[string]any `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

func loadSpec(t testing.TB) *spec {
	t.Helper()
	var s spec
	if err := json.Unmarshal(api.OpenAPI, &s); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return &s
}

// operation finds the operation of method on a concrete path ("/api/v1/payouts/12") by matching
// the templates ("/api/v1/payouts/{id}").
func (s *spec) operation(method, path string) (string, map[string]any, bool) {
	path, _, _ = strings.Cut(path, "?")
	// A literal segment beats a parameter, as in the router: /claims/requirements is not
	// /claims/{id}.
	got := strings.Split(path, "/")
	best, bestLiterals := "", -1
	var bestOp map[string]any
	for tmpl, ops := range s.Paths {
		want := strings.Split(tmpl, "/")
		if len(want) != len(got) {
			continue
		}
		match, literals := true, 0
		for i := range want {
			if want[i] == got[i] {
				literals++
			} else if !strings.HasPrefix(want[i], "{") {
				match = false
				break
			}
		}
		if op, ok := ops[strings.ToLower(method)]; match && ok && literals > bestLiterals {
			best, bestLiterals, bestOp = tmpl, literals, op
		}
	}
	return best, bestOp, bestLiterals >= 0
}

// checkResponse validates one response against the document: the status is declared for the
// operation and the body matches the declared schema (required fields, types, enums, formats,
// and no field the document does not declare).
func (s *spec) checkResponse(method, path string, status int, body []byte) error {
	tmpl, op, ok := s.operation(method, path)
	if !ok {
		return fmt.Errorf("%s %s is not in openapi.json", method, path)
	}
	responses, _ := op["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(status)].(map[string]any)
	if !ok {
		return fmt.Errorf("%s %s answered %d, which openapi.json does not declare", method, tmpl, status)
	}
	content, _ := r["content"].(map[string]any)
	if content == nil {
		if len(body) > 0 {
			return fmt.Errorf("%s %s %d: body %s but the document declares none", method, tmpl, status, body)
		}
		return nil
	}
	schema := content["application/json"].(map[string]any)["schema"].(map[string]any)
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%s %s %d: body is not JSON: %v", method, tmpl, status, err)
	}
	if probs := s.validate(schema, v, "$"); len(probs) > 0 {
		return fmt.Errorf("%s %s %d does not match openapi.json:\n  %s", method, tmpl, status, strings.Join(probs, "\n  "))
	}
	return nil
}

var reDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func (s *spec) resolve(schema map[string]any) map[string]any {
	for {
		ref, ok := schema["$ref"].(string)
		if !ok {
			return schema
		}
		schema = s.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
	}
}

func (s *spec) validate(schema map[string]any, v any, at string) []string {
	schema = s.resolve(schema)
	if schema == nil {
		return []string{at + ": unresolvable schema"}
	}
	if v == nil {
		if schema["nullable"] == true {
			return nil
		}
		return []string{at + ": null but not nullable"}
	}
	var probs []string
	if all, ok := schema["allOf"].([]any); ok {
		for _, sub := range all {
			probs = append(probs, s.validate(sub.(map[string]any), v, at)...)
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		probs = append(probs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	switch schema["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return append(probs, fmt.Sprintf("%s: want object, got %T", at, v))
		}
		props, _ := schema["properties"].(map[string]any)
		req, _ := schema["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				probs = append(probs, fmt.Sprintf("%s: required field %q missing", at, r))
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := props[k].(map[string]any); ok {
				probs = append(probs, s.validate(p, m[k], at+"."+k)...)
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					probs = append(probs, fmt.Sprintf("%s: field %q is not documented", at, k))
				}
			case map[string]any:
				probs = append(probs, s.validate(ap, m[k], at+"."+k)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return append(probs, fmt.Sprintf("%s: want array, got %T", at, v))
		}
		items, _ := schema["items"].(map[string]any)
		for i, x := range a {
			probs = append(probs, s.validate(items, x, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return append(probs, fmt.Sprintf("%s: want string, got %T", at, v))
		}
		switch schema["format"] {
		case "date":
			if !reDate.MatchString(str) {
				probs = append(probs, fmt.Sprintf("%s: %q is not a date", at, str))
			}
		case "date-time":
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				probs = append(probs, fmt.Sprintf("%s: %q is not a date-time", at, str))
			}
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return append(probs, fmt.Sprintf("%s: want integer, got %v", at, v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return append(probs, fmt.Sprintf("%s: want boolean, got %T", at, v))
		}
	}
	return probs
}

// TestOpenAPIMatchesRoutes: every route the app serves under /api is in the document, and every
// operation of the document is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	w := newWorld(t)
	s := loadSpec(t)
	served := map[string]bool{}
	for _, r := range w.app.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/") || r.Method == fiber.MethodHead {
			continue
		}
		p := regexp.MustCompile(`:(\w+)`).ReplaceAllString(r.Path, "{$1}")
		key := r.Method + " " + p
		served[key] = true
		if _, ok := s.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s is not documented in openapi.json", key)
		}
	}
	for p, ops := range s.Paths {
		for m := range ops {
			if key := strings.ToUpper(m) + " " + p; !served[key] {
				t.Errorf("openapi.json documents %s, which the app does not serve", key)
			}
		}
	}
	if len(served) < 10 {
		t.Fatalf("only %d routes under /api: %v", len(served), served)
	}
	// Every $ref resolves.
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, ok := s.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]; !ok {
					t.Errorf("dangling $ref %s", ref)
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	var raw any
	_ = json.Unmarshal(api.OpenAPI, &raw)
	walk(raw)
}

// TestValidatorCatchesMismatches keeps the checker honest: it must be able to fail.
func TestValidatorCatchesMismatches(t *testing.T) {
	s := loadSpec(t)
	tests := []struct {
		name, method, path string
		status             int
		body               string
	}{
		{"undeclared status", "GET", "/api/v1/me", 418, `{}`},
		{"missing required", "GET", "/api/v1/me/preferences", 200, `{"subscriptions":[],"templates":[]}`},
		{"undocumented field", "GET", "/api/v1/me/preferences", 200, `{"subscriptions":[],"templates":[],"sms_opt_out":false,"extra":1}`},
		{"wrong type", "GET", "/api/v1/me/preferences", 200, `{"subscriptions":"x","templates":[],"sms_opt_out":false}`},
		{"bad enum", "POST", "/api/v1/eligibility/check", 200, `{"date":"2025-01-01","status":"maybe","status_label":"","pay_to":null,"reasons":[],"missing":[]}`},
		{"unknown route", "GET", "/api/v1/nope", 200, `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.checkResponse(tc.method, tc.path, tc.status, []byte(tc.body)); err == nil {
				t.Errorf("checkResponse(%s %s %d %s) = nil, want a mismatch", tc.method, tc.path, tc.status, tc.body)
			}
		})
	}
	if err := s.checkResponse("GET", "/api/v1/me/preferences", 200, []byte(`{"subscriptions":["a"],"templates":[],"sms_opt_out":true}`)); err != nil {
		t.Errorf("valid body refused: %v", err)
	}
}

// TestOpenAPILintRules holds the spec to the rules of `redocly lint` that broke before (CI also
// runs redocly itself): every operation has an operationId, unique, for client generators; and
// `nullable` never stands without a `type` beside it (OpenAPI 3.0 ignores it there, so a
// nullable allOf reference needs "type": "object").
func TestOpenAPILintRules(t *testing.T) {
	var spec struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &spec); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for path, ops := range spec.Paths {
		for method, op := range ops {
			where := strings.ToUpper(method) + " " + path
			switch prev, dup := seen[op.OperationID]; {
			case op.OperationID == "":
				t.Errorf("%s has no operationId", where)
			case dup:
				t.Errorf("%s and %s share operationId %q", where, prev, op.OperationID)
			}
			seen[op.OperationID] = where
		}
	}
	var doc any
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["nullable"] == true && x["type"] == nil {
				t.Errorf("%s: nullable without type", at)
			}
			for k, c := range x {
				walk(at+"/"+k, c)
			}
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s/%d", at, i), c)
			}
		}
	}
	walk("#", doc)
}
