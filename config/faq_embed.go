package config

import _ "embed" // for go:embed

// FAQYAML is the shipped knowledge base of the official-account bot (faq.yaml): questions with
// their similar phrasings and answers whose figures are placeholders filled from the policy in
// force. service/bot parses and checks it; treat it as read-only, since every caller shares the
// same bytes.
//
//go:embed faq.yaml
var FAQYAML []byte
