package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
