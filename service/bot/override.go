package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Override is one staff edit of the knowledge base as the database keeps it (the Body of a
// model.FAQEntry whose Key is the entry's id): the whole entry, and whether staff retired it.
// A retired entry keeps its text so that it can be restored.
type Override struct {
	Entry   Entry
	Retired bool
}

// storedEntry is the YAML of an Override: the entry's keys, as in config/faq.yaml, and retired.
type storedEntry struct {
	Entry   `yaml:",inline"`
	Retired bool `yaml:"retired,omitempty"`
}

// MarshalOverride writes o as YAML that ParseOverride reads back unchanged.
func MarshalOverride(o Override) ([]byte, error) {
	b, err := yaml.Marshal(storedEntry{Entry: o.Entry, Retired: o.Retired})
	if err != nil {
		return nil, fmt.Errorf("faq entry %s: %w", o.Entry.ID, err)
	}
	return b, nil
}

// ParseOverride reads an Override written by MarshalOverride; unknown keys are an error, as in
// the shipped file. It does not check the entry: Build does, with the rest of the knowledge base.
func ParseOverride(body []byte) (Override, error) {
	var se storedEntry
	dec := yaml.NewDecoder(strings.NewReader(string(body)))
	dec.KnownFields(true)
	if err := dec.Decode(&se); err != nil {
		return Override{}, fmt.Errorf("faq entry: not valid YAML: %w", err)
	}
	return Override{Entry: se.Entry, Retired: se.Retired}, nil
}

// Revision is a short fingerprint of o's content: the console sends back the revision it showed,
// so that an edit made meanwhile by someone else is not overwritten unseen.
func (o Override) Revision() string {
	b, _ := MarshalOverride(o)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}

// Apply lays o over s: a retired entry is removed (see Retire), another one put in place.
func (s *Source) Apply(o Override) {
	if o.Retired {
		s.Retire(o.Entry.ID)
		return
	}
	s.Put(o.Entry)
}

// LexiconKey is the key of the model.FAQEntry row that holds staff's lexicon (see
// MarshalLexicon): it is not a valid entry id, so it never names an entry.
const LexiconKey = "_lexicon"

// storedLexicon is the YAML of staff's lexicon row: the lexicon as in config/faq.yaml.
type storedLexicon struct {
	Lexicon []LexTerm `yaml:"lexicon"`
}

// MarshalLexicon writes a whole lexicon as YAML that ParseLexicon reads back unchanged.
func MarshalLexicon(lex []LexTerm) ([]byte, error) {
	b, err := yaml.Marshal(storedLexicon{Lexicon: lex})
	if err != nil {
		return nil, fmt.Errorf("faq lexicon: %w", err)
	}
	return b, nil
}

// ParseLexicon reads a lexicon written by MarshalLexicon; unknown keys are an error. It does not
// check it: Build does, with the rest of the knowledge base.
func ParseLexicon(body []byte) ([]LexTerm, error) {
	var sl storedLexicon
	dec := yaml.NewDecoder(strings.NewReader(string(body)))
	dec.KnownFields(true)
	if err := dec.Decode(&sl); err != nil {
		return nil, fmt.Errorf("faq lexicon: not valid YAML: %w", err)
	}
	return sl.Lexicon, nil
}

// Lexicon returns a copy of s's lexicon.
func (s *Source) Lexicon() []LexTerm {
	out := make([]LexTerm, len(s.f.Lexicon))
	for i, t := range s.f.Lexicon {
		out[i] = LexTerm{Term: t.Term, Say: slices.Clone(t.Say)}
	}
	return out
}

// SetLexicon replaces s's lexicon with a copy of lex (staff's saved lexicon replaces the
// shipped one whole).
func (s *Source) SetLexicon(lex []LexTerm) {
	s.f.Lexicon = nil
	for _, t := range lex {
		s.f.Lexicon = append(s.f.Lexicon, LexTerm{Term: t.Term, Say: slices.Clone(t.Say)})
	}
}
