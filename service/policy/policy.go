package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"huzhu/model"
)

// Version is one effective-dated version of the plan's rules. It applies to bills dated on or
// after EffectiveFrom until the next version starts. A Version returned by this package is valid
// and shares no memory with the Engine or with other callers.
type Version struct {
	Code          string // stable identifier, e.g. "2021"
	Name          string // Chinese name shown to workers
	EffectiveFrom model.Date
	AnnualCapFen  model.Fen // most the plan pays one worker in one calendar year
	BonusBP       model.BP  // added to a claim ratio for hardship or model workers
	Claims        map[model.ClaimType]ClaimRule
	Ladder        []Segment         // major disease, over the year's cumulative above-cap amount, ascending
	Sources       map[string]string // figure key (see SourceKeys) -> "seed: …" or "assumed"
	Note          string            // short Chinese note for staff
}

// ClaimRule is how one claim type is paid: RatioBP of the 自付一 left after DeductibleFen, which
// is counted per claim type per calendar year.
type ClaimRule struct {
	RatioBP       model.BP
	DeductibleFen model.Fen
}

// Segment is one step of the major-disease ladder: RatioBP applies to the part of the year's
// cumulative above-cap amount below UpToFen and above the previous segment's UpToFen. UpToFen 0
// means no upper bound and is allowed, and required, only on the last segment.
type Segment struct {
	UpToFen model.Fen
	RatioBP model.BP
}

// SourceAssumed marks a figure the seed documents do not give. The other mark is "seed: " followed
// by the document and a quote.
const SourceAssumed = "assumed"

const seedPrefix = "seed:"

// maxFen bounds every amount (10 billion yuan) so that amount × ratio cannot overflow int64.
const maxFen model.Fen = 1_000_000_000_000

// Keys of the version's figures, as used in the YAML, in Sources and in error messages.
const (
	keyEffectiveFrom = "effective_from"
	keyAnnualCap     = "annual_cap"
	keyBonus         = "bonus"
	keyClaims        = "claims"
	keyLadder        = "major_disease_ladder"
)

func claimKey(c model.ClaimType, field string) string {
	return keyClaims + "." + string(c) + "." + field
}

func segmentKey(i int) string { return fmt.Sprintf("%s.segments[%d]", keyLadder, i) }

// SourceKeys returns the keys of v.Sources that a valid v must carry, one per figure:
// effective_from, annual_cap, bonus, claims.<type>.ratio, claims.<type>.deductible,
// major_disease_ladder (the ladder as a whole) and major_disease_ladder.segments[i].
func SourceKeys(v Version) []string {
	keys := []string{keyEffectiveFrom, keyAnnualCap, keyBonus}
	for _, c := range model.ClaimTypes {
		if _, ok := v.Claims[c]; ok {
			keys = append(keys, claimKey(c, "ratio"), claimKey(c, "deductible"))
		}
	}
	keys = append(keys, keyLadder)
	for i := range v.Ladder {
		keys = append(keys, segmentKey(i))
	}
	return keys
}

// ParseYAML reads a policy file (a top-level "versions" list) and validates every version and the
// set as New does. The versions are returned in file order. On failure the error is an
// errors.Join of every problem found, each naming the version, the key, what is wrong and an
// example, e.g. `policy 2021: claims.inpatient.ratio "120%" is above 100% (example: "50%")`.
func ParseYAML(data []byte) ([]Version, error) {
	root, err := document(data)
	if err != nil {
		return nil, fmt.Errorf("policy file: %w", err)
	}
	file := &parser{who: "policy file"}
	top := file.mapping(root, "", "versions")
	if top == nil {
		return nil, errors.Join(file.probs...)
	}
	list := deref(top["versions"])
	if list == nil || list.Kind != yaml.SequenceNode {
		file.bad("versions", "", "is missing or not a list", `"versions:" followed by "- code: ..." items`)
		return nil, errors.Join(file.probs...)
	}
	probs := file.probs
	versions := make([]Version, 0, len(list.Content))
	for i, n := range list.Content {
		v, vp := parseVersion(n, fmt.Sprintf("#%d", i+1))
		probs = append(probs, vp...)
		versions = append(versions, v)
	}
	probs = append(probs, checkSet(versions)...)
	if len(probs) > 0 {
		return nil, errors.Join(probs...)
	}
	return versions, nil
}

// ParseVersion reads one version written as YAML (a mapping like one item of the policy file's
// versions list), as staff edit it in the console. Problems are reported as by ParseYAML.
func ParseVersion(body []byte) (Version, error) {
	root, err := document(body)
	if err != nil {
		return Version{}, fmt.Errorf("policy version: %w", err)
	}
	v, probs := parseVersion(root, "(no code)")
	if len(probs) > 0 {
		return Version{}, errors.Join(probs...)
	}
	return v, nil
}

// MarshalVersion writes v as YAML in the layout of the policy file, so that ParseVersion gives v
// back unchanged (parsing trims spaces around texts, so a v read by this package round-trips
// exactly). It refuses an invalid v, so what is stored can always be read again.
func MarshalVersion(v Version) ([]byte, error) {
	if probs := checkVersion(v, "", nil); len(probs) > 0 {
		return nil, errors.Join(probs...)
	}
	figure := func(value, key string, quoted bool) *yaml.Node {
		val := scalarNode(value)
		if quoted {
			val.Style = yaml.DoubleQuotedStyle
		}
		return mappingNode(scalarNode("value"), val, scalarNode("source"), scalarNode(v.Sources[key]))
	}
	claims := mappingNode()
	for _, c := range model.ClaimTypes {
		r := v.Claims[c]
		ratio := figure(r.RatioBP.Percent(), claimKey(c, "ratio"), true)
		ded := figure(r.DeductibleFen.Yuan(), claimKey(c, "deductible"), true)
		ratio.Style, ded.Style = yaml.FlowStyle, yaml.FlowStyle
		claims.Content = append(claims.Content, scalarNode(string(c)),
			mappingNode(scalarNode("ratio"), ratio, scalarNode("deductible"), ded))
	}
	segments := &yaml.Node{Kind: yaml.SequenceNode}
	for i, s := range v.Ladder {
		seg := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		if s.UpToFen > 0 {
			seg.Content = append(seg.Content, scalarNode("up_to"), quotedNode(s.UpToFen.Yuan()))
		}
		seg.Content = append(seg.Content, scalarNode("ratio"), quotedNode(s.RatioBP.Percent()),
			scalarNode("source"), scalarNode(v.Sources[segmentKey(i)]))
		segments.Content = append(segments.Content, seg)
	}
	doc := mappingNode(
		scalarNode("code"), quotedNode(v.Code),
		scalarNode("name"), scalarNode(v.Name),
	)
	if v.Note != "" {
		doc.Content = append(doc.Content, scalarNode("note"), scalarNode(v.Note))
	}
	doc.Content = append(doc.Content,
		scalarNode(keyEffectiveFrom), figure(string(v.EffectiveFrom), keyEffectiveFrom, true),
		scalarNode(keyAnnualCap), figure(v.AnnualCapFen.Yuan(), keyAnnualCap, true),
		scalarNode(keyBonus), figure(v.BonusBP.Percent(), keyBonus, true),
		scalarNode(keyClaims), claims,
		scalarNode(keyLadder), mappingNode(
			scalarNode("source"), scalarNode(v.Sources[keyLadder]),
			scalarNode("segments"), segments),
	)
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal policy %s: %w", v.Code, err)
	}
	return out, nil
}

func scalarNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

func quotedNode(s string) *yaml.Node {
	n := scalarNode(s)
	n.Style = yaml.DoubleQuotedStyle
	return n
}

func mappingNode(kv ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: kv}
}

// document returns the root node of a single YAML document.
func document(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, errors.New("is empty")
	}
	return doc.Content[0], nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// parser collects every problem of one version instead of stopping at the first, so staff can fix
// a file in one go.
type parser struct {
	who   string // "policy 2021", or "policy #2" while the code is unknown
	probs []error
}

// bad records one problem as `<who>: <field> "<value>" <problem> (example: <example>)`; the value
// is left out when empty.
func (p *parser) bad(field, value, problem, example string) {
	p.probs = append(p.probs, problem1(p.who, field, value, problem, example))
}

func problem1(who, field, value, problem, example string) error {
	subject := field
	if value != "" {
		subject += " " + strconv.Quote(value)
	}
	if subject != "" {
		subject += " "
	}
	return fmt.Errorf("%s: %s%s (example: %s)", who, subject, problem, example)
}

// mapping returns the entries of the mapping n, reporting unknown keys; nil if n is not a mapping.
func (p *parser) mapping(n *yaml.Node, field string, known ...string) map[string]*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		what := "is missing"
		if n != nil {
			what = "is not a mapping of keys"
		}
		p.bad(field, "", what, "keys "+strings.Join(known, ", "))
		return nil
	}
	m := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if _, dup := m[k]; dup {
			p.bad(join(field, k), "", "is given twice", "keep one")
		}
		if known != nil && !slices.Contains(known, k) {
			p.bad(join(field, k), "", "is not a known key", "one of "+strings.Join(known, ", "))
			continue
		}
		m[k] = n.Content[i+1]
	}
	return m
}

// scalar returns the trimmed text of the scalar n; ok is false, and a problem recorded, if n is
// missing or not a scalar.
func (p *parser) scalar(n *yaml.Node, field, example string) (string, bool) {
	n = deref(n)
	switch {
	case n == nil:
		p.bad(field, "", "is missing", example)
		return "", false
	case n.Kind != yaml.ScalarNode:
		p.bad(field, "", "is not a single value", example)
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

// text reads the plain text key of m; failed is true if it was reported as missing or unreadable.
func (p *parser) text(m map[string]*yaml.Node, key, example string) (s string, failed bool) {
	s, ok := p.scalar(m[key], key, example)
	return s, !ok
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// figure reads the {value, source} mapping n of the figure key, stores the source and returns the
// value. A bare value is accepted so that a missing source is reported as such rather than as a
// shape error.
func (p *parser) figure(n *yaml.Node, key, example string, v *Version, failed map[string]bool) (string, bool) {
	n = deref(n)
	if n != nil && n.Kind == yaml.ScalarNode {
		return strings.TrimSpace(n.Value), true
	}
	f := p.mapping(n, key, "value", "source")
	if f == nil {
		failed[key] = true
		return "", false
	}
	if s := deref(f["source"]); s != nil && s.Kind == yaml.ScalarNode {
		v.Sources[key] = strings.TrimSpace(s.Value)
	}
	s, ok := p.scalar(f["value"], key+".value", example)
	if !ok {
		failed[key+".value"] = true
	}
	return s, ok
}

// parseVersion reads one version node. position names the version in problems when it has no
// code ("#2" for the second item of the file).
func parseVersion(n *yaml.Node, position string) (Version, []error) {
	p := &parser{who: "policy " + position}
	if code := codeOf(n); code != "" {
		p.who = "policy " + code
	}
	v := Version{Claims: map[model.ClaimType]ClaimRule{}, Sources: map[string]string{}}
	m := p.mapping(n, "", "code", "name", "note", keyEffectiveFrom, keyAnnualCap, keyBonus, keyClaims, keyLadder)
	if m == nil {
		return v, p.probs
	}
	failed := map[string]bool{} // keys already reported as unreadable: not checked again
	v.Code, failed["code"] = p.text(m, "code", `"2021"`)
	v.Name, failed["name"] = p.text(m, "name", `"在职职工医疗互助保障计划 2021年提标"`)
	if n := deref(m["note"]); n != nil {
		v.Note, _ = p.scalar(n, "note", `"2021年提高保障力度"`)
	}

	if s, ok := p.figure(m[keyEffectiveFrom], keyEffectiveFrom, `"2021-07-01"`, &v, failed); ok {
		if d, err := model.ParseDate(s); err != nil {
			p.bad(keyEffectiveFrom+".value", s, "is not a date", `"2021-07-01"`)
			failed[keyEffectiveFrom+".value"] = true
		} else {
			v.EffectiveFrom = d
		}
	}
	v.AnnualCapFen = p.yuan(m[keyAnnualCap], keyAnnualCap, `"200653.00"`, &v, failed)
	v.BonusBP = p.percent(m[keyBonus], keyBonus, `"5%"`, &v, failed)

	types := make([]string, len(model.ClaimTypes))
	for i, c := range model.ClaimTypes {
		types[i] = string(c)
	}
	if claims := p.mapping(m[keyClaims], keyClaims, types...); claims != nil {
		for _, c := range model.ClaimTypes {
			n, ok := claims[string(c)]
			if !ok {
				continue // reported by checkVersion
			}
			cm := p.mapping(n, keyClaims+"."+string(c), "ratio", "deductible")
			if cm == nil {
				failed[keyClaims+"."+string(c)] = true
				continue
			}
			v.Claims[c] = ClaimRule{
				RatioBP:       p.percent(cm["ratio"], claimKey(c, "ratio"), `"50%"`, &v, failed),
				DeductibleFen: p.yuan(cm["deductible"], claimKey(c, "deductible"), `"0.00"`, &v, failed),
			}
		}
	} else {
		failed[keyClaims] = true
	}
	p.ladder(m[keyLadder], &v, failed)

	p.probs = append(p.probs, checkVersion(v, p.who, failed)...)
	return v, p.probs
}

// codeOf returns the code of a version node, if it has a readable one.
func codeOf(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if c := deref(n.Content[i+1]); n.Content[i].Value == "code" && c != nil && c.Kind == yaml.ScalarNode {
			return strings.TrimSpace(c.Value)
		}
	}
	return ""
}

// yuan reads the money figure key from n; failed records an unreadable figure.
func (p *parser) yuan(n *yaml.Node, key, example string, v *Version, failed map[string]bool) model.Fen {
	s, ok := p.figure(n, key, example, v, failed)
	if !ok {
		return 0
	}
	f, err := model.ParseYuan(s)
	if err != nil {
		p.bad(key+".value", s, "is not yuan with at most two decimals", example)
		failed[key+".value"] = true
	}
	return f
}

// percent reads the ratio figure key from n; failed records an unreadable figure.
func (p *parser) percent(n *yaml.Node, key, example string, v *Version, failed map[string]bool) model.BP {
	s, ok := p.figure(n, key, example, v, failed)
	if !ok {
		return 0
	}
	bp, err := parsePercent(s)
	if err != nil {
		p.bad(key+".value", s, err.Error(), example)
		failed[key+".value"] = true
	}
	return bp
}

func (p *parser) ladder(n *yaml.Node, v *Version, failed map[string]bool) {
	m := p.mapping(n, keyLadder, "source", "segments")
	if m == nil {
		failed[keyLadder] = true
		return
	}
	if s := deref(m["source"]); s != nil && s.Kind == yaml.ScalarNode {
		v.Sources[keyLadder] = strings.TrimSpace(s.Value)
	}
	list := deref(m["segments"])
	if list == nil || list.Kind != yaml.SequenceNode {
		p.bad(keyLadder+".segments", "", "is missing or not a list", `- {up_to: "50000.00", ratio: "40%", source: assumed}`)
		failed[keyLadder+".segments"] = true
		return
	}
	for i, sn := range list.Content {
		key := segmentKey(i)
		var seg Segment
		sm := p.mapping(sn, key, "up_to", "ratio", "source")
		if sm == nil {
			failed[key] = true
			v.Ladder = append(v.Ladder, seg) // keep the indices of later segments
			continue
		}
		if up := deref(sm["up_to"]); up != nil {
			s, _ := p.scalar(up, key+".up_to", `"50000.00"`)
			f, err := model.ParseYuan(s)
			if err != nil {
				p.bad(key+".up_to", s, "is not yuan with at most two decimals", `"50000.00"`)
				failed[key+".up_to"] = true
			}
			seg.UpToFen = f
		}
		if r, ok := p.scalar(sm["ratio"], key+".ratio", `"40%"`); ok {
			bp, err := parsePercent(r)
			if err != nil {
				p.bad(key+".ratio", r, err.Error(), `"40%"`)
				failed[key+".ratio"] = true
			}
			seg.RatioBP = bp
		} else {
			failed[key+".ratio"] = true
		}
		if s := deref(sm["source"]); s != nil && s.Kind == yaml.ScalarNode {
			v.Sources[key] = strings.TrimSpace(s.Value)
		}
		v.Ladder = append(v.Ladder, seg)
	}
}

// parsePercent reads "50%", "52.5%" or "52.55%" into basis points exactly.
func parsePercent(s string) (model.BP, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, errors.New("is not a percentage ending in %")
	}
	whole, frac, hasFrac := strings.Cut(strings.TrimSpace(num), ".")
	if whole == "" || len(whole) > 6 || (hasFrac && (frac == "" || len(frac) > 2)) ||
		strings.Trim(whole+frac, "0123456789") != "" {
		return 0, errors.New("is not a percentage with at most two decimals")
	}
	for len(frac) < 2 {
		frac += "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, errors.New("is not a percentage with at most two decimals")
	}
	return model.BP(n), nil
}

// checkVersion reports every problem of v's values, each naming the version as who (by default
// "policy <code>"). skip holds keys already reported as unreadable by the parser; a key also
// covers everything under it.
func checkVersion(v Version, who string, skip map[string]bool) []error {
	switch {
	case who != "":
	case v.Code != "":
		who = "policy " + v.Code
	default:
		who = "policy (no code)"
	}
	var probs []error
	bad := func(field, value, problem, example string) {
		probs = append(probs, problem1(who, field, value, problem, example))
	}
	ok := func(key string) bool { return !skipped(skip, key) && !skip[key+".value"] }
	switch {
	case skip["code"]:
	case v.Code == "":
		bad("code", "", "is missing", `"2021"`)
	case strings.ContainsFunc(v.Code, func(r rune) bool { return r <= ' ' }) || len(v.Code) > 32:
		bad("code", v.Code, "must be one short word without spaces", `"2021"`)
	}
	if v.Name == "" && !skip["name"] {
		bad("name", "", "is missing", `"在职职工医疗互助保障计划 2021年提标"`)
	}
	if ok(keyEffectiveFrom) && !validDate(v.EffectiveFrom) {
		bad(keyEffectiveFrom, string(v.EffectiveFrom), "is not a date", `"2021-07-01"`)
	}
	if ok(keyAnnualCap) {
		checkMoney(bad, keyAnnualCap, v.AnnualCapFen, true, `"200653.00"`)
	}
	if ok(keyBonus) {
		checkRatio(bad, keyBonus, v.BonusBP, `"5%"`)
	}
	if !skipped(skip, keyClaims) {
		for _, c := range model.ClaimTypes {
			if _, found := v.Claims[c]; !found && !skipped(skip, keyClaims+"."+string(c)) {
				bad(keyClaims+"."+string(c), "", "is missing", `ratio: {value: "50%", source: assumed}`)
			}
		}
		for _, c := range slices.Sorted(maps.Keys(v.Claims)) {
			r := v.Claims[c]
			if !c.Valid() {
				bad(keyClaims+"."+string(c), "", "is not a claim type", "outpatient, inpatient or special_inpatient")
				continue
			}
			if ok(claimKey(c, "ratio")) {
				checkRatio(bad, claimKey(c, "ratio"), r.RatioBP, `"50%"`)
			}
			if ok(claimKey(c, "deductible")) {
				checkMoney(bad, claimKey(c, "deductible"), r.DeductibleFen, false, `"0.00"`)
			}
		}
	}
	if !skipped(skip, keyLadder+".segments") {
		checkLadder(bad, v.Ladder, skip)
	}
	checkSources(bad, v, skip)
	return probs
}

// skipped reports whether key, or a key above it, is in skip.
func skipped(skip map[string]bool, key string) bool {
	for s, on := range skip {
		if on && (key == s || strings.HasPrefix(key, s+".") || strings.HasPrefix(key, s+"[")) {
			return true
		}
	}
	return false
}

type badFunc func(field, value, problem, example string)

func checkMoney(bad badFunc, key string, f model.Fen, positive bool, example string) {
	switch {
	case f < 0 || (positive && f == 0):
		bad(key, f.Yuan(), "must be above 0", example)
	case f > maxFen:
		bad(key, f.Yuan(), "is too large", example)
	}
}

func checkRatio(bad badFunc, key string, r model.BP, example string) {
	switch {
	case r < 0:
		bad(key, r.Percent(), "is below 0%", example)
	case r > model.FullBP:
		bad(key, r.Percent(), "is above 100%", example)
	}
}

func checkLadder(bad badFunc, ladder []Segment, skip map[string]bool) {
	if len(ladder) == 0 {
		bad(keyLadder+".segments", "", "is empty", `- {up_to: "50000.00", ratio: "40%", source: assumed}`)
		return
	}
	var prev model.Fen
	var prevRatio model.BP
	for i, s := range ladder {
		key := segmentKey(i)
		if skipped(skip, key) {
			continue
		}
		last := i == len(ladder)-1
		if !skip[key+".up_to"] {
			switch {
			case last && s.UpToFen != 0:
				bad(key+".up_to", s.UpToFen.Yuan(), "must be left out on the last segment, which covers everything above", `{ratio: "90%", source: assumed}`)
			case !last && s.UpToFen <= 0:
				bad(key+".up_to", s.UpToFen.Yuan(), "is missing or not above 0 (only the last segment has no up_to)", `"50000.00"`)
			case !last && s.UpToFen <= prev:
				bad(key+".up_to", s.UpToFen.Yuan(), "is not above the previous segment's "+strconv.Quote(prev.Yuan())+": segments must ascend",
					strconv.Quote((prev + 5_000_000).Yuan()))
			case s.UpToFen > maxFen:
				bad(key+".up_to", s.UpToFen.Yuan(), "is too large", `"300000.00"`)
			}
			prev = max(prev, s.UpToFen)
		}
		if !skip[key+".ratio"] {
			checkRatio(bad, key+".ratio", s.RatioBP, `"40%"`)
			if s.RatioBP < prevRatio {
				bad(key+".ratio", s.RatioBP.Percent(), "is below the previous segment's "+strconv.Quote(prevRatio.Percent())+": ratios must not fall",
					strconv.Quote(prevRatio.Percent()))
			}
			prevRatio = max(prevRatio, s.RatioBP)
		}
	}
}

func checkSources(bad badFunc, v Version, skip map[string]bool) {
	const example = `assumed, or "seed: 工人日报 2021-09-13「…」"`
	want := SourceKeys(v)
	for _, k := range want {
		if skipped(skip, k) {
			continue
		}
		s, found := v.Sources[k]
		switch {
		case !found || s == "":
			bad(k+".source", "", "is missing: every figure needs a source mark", example)
		case s == SourceAssumed:
		case strings.HasPrefix(s, seedPrefix) && strings.TrimSpace(s[len(seedPrefix):]) != "":
		default:
			bad(k+".source", s, `is neither "assumed" nor "seed: <document, quote>"`, example)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(v.Sources)) {
		if !slices.Contains(want, k) {
			bad("sources", k, "is not the key of a figure", strings.Join(want[:3], ", "))
		}
	}
}

// checkSet reports problems of the set of versions: none at all, codes used twice, and two
// versions starting on the same day (which would make the version in force ambiguous).
func checkSet(vs []Version) []error {
	if len(vs) == 0 {
		return []error{problem1("policy file", "versions", "", "is empty", `- code: "2021" ...`)}
	}
	var probs []error
	codes := map[string]bool{}
	starts := map[model.Date]string{}
	for _, v := range vs {
		if v.Code != "" {
			if codes[v.Code] {
				probs = append(probs, problem1("policy "+v.Code, "code", v.Code, "is used by another version", `"2021b"`))
			}
			codes[v.Code] = true
		}
		if !validDate(v.EffectiveFrom) {
			continue
		}
		if other, ok := starts[v.EffectiveFrom]; ok {
			probs = append(probs, problem1("policy "+v.Code, keyEffectiveFrom, string(v.EffectiveFrom),
				"is the same as policy "+other+"'s: the two versions overlap", `a later date such as "`+nextYear(v.EffectiveFrom)+`"`))
			continue
		}
		starts[v.EffectiveFrom] = v.Code
	}
	return probs
}

func nextYear(d model.Date) string { return fmt.Sprintf("%d-01-01", d.Year()+1) }

// validDate reports whether d is a real date in the canonical "2006-01-02" form, so that dates
// compare correctly as strings.
func validDate(d model.Date) bool {
	t := d.Time()
	return !t.IsZero() && model.DateOf(t) == d
}

// clone returns a deep copy of v.
func (v Version) clone() Version {
	v.Claims = maps.Clone(v.Claims)
	v.Ladder = slices.Clone(v.Ladder)
	v.Sources = maps.Clone(v.Sources)
	return v
}

// Load parses a policy file and builds its engine: ParseYAML then New, for callers with no
// stored versions to merge in (tests, tools).
func Load(data []byte) (*Engine, error) {
	versions, err := ParseYAML(data)
	if err != nil {
		return nil, err
	}
	return New(versions)
}
