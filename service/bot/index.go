package bot

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// BM25F parameters (notes/bot-retrieval.md).
const (
	bm25K1  = 1.2
	bm25B   = 0.75
	weightQ = 1.0 // question and similar phrasings
	weightA = 0.5 // answer text
	// coverA is what a query term found only in the answer adds to the confidence.
	coverA = 0.5
	// pairShare is the weight of adjacent-pair coverage in the confidence: chit-chat shares
	// single characters with the knowledge base by chance, rarely two in a row.
	pairShare = 0.5
)

// rankScore is the weight of the BM25F score (as a share of the best one) next to the
// confidence when ranking: the confidence says how much of the question an entry explains,
// the score breaks near ties towards the entry that uses the question's rare terms most.
const rankScore = 0.5

// docMark is a document and how it has an n-gram (2: in the question field, 1: only in the answer).
type docMark struct {
	doc  int32
	mark int8
}

// posting is one document's term frequencies in the two fields.
type posting struct {
	doc      int
	tfQ, tfA float64
}

// index is an immutable inverted index over documents of two fields (one document per entry).
// It is safe for concurrent reads.
type index struct {
	n        int
	postings map[string][]posting
	idf      map[string]float64
	// Adjacent term pairs and runs of three terms → the documents that have them: 2 when the
	// question field does, 1 when only the answer does (pairs); the question field (runs of three).
	pairs  map[string][]docMark
	tris   map[string][]int32
	normQ  []float64 // BM25 length normalisation of each field
	normA  []float64
	unseen float64 // idf of a term no document has
	an     *analyzer
}

// line is one analyzed line of a field: its characters (and ASCII runs) and its whole words.
type line struct{ chars, words []string }

// doc is one document to index: the analyzed lines of its question field (the question and its
// phrasings) and of its answer.
type doc struct{ q, a []line }

// lines analyzes text one line at a time (as a question is read: slips corrected, sayings
// rewritten, so that a phrasing written with a slip indexes the spelling it stands for).
func (an *analyzer) lines(text string) []line {
	var out []line
	for _, l := range strings.Split(text, "\n") {
		chars, words := an.terms(an.prepare(l, true))
		out = append(out, line{chars, words})
	}
	return out
}

// fieldTerms returns the terms of a field's lines, adding each line's adjacent pairs to pairs
// and, when tris is not nil, its runs of three to tris.
func fieldTerms(ls []line, pairs, tris map[string]bool) []string {
	var out []string
	for _, l := range ls {
		addPairs(pairs, l.chars)
		if tris != nil {
			addTris(tris, l.chars)
		}
		out = append(append(out, l.chars...), l.words...)
	}
	return out
}

func buildIndex(docs []doc, an *analyzer) *index {
	n := len(docs)
	ix := &index{n: n, postings: map[string][]posting{}, idf: map[string]float64{},
		pairs: map[string][]docMark{}, tris: map[string][]int32{},
		normQ: make([]float64, n), normA: make([]float64, n), an: an}
	lenQ, lenA := make([]float64, n), make([]float64, n)
	var avgQ, avgA float64
	for d, dc := range docs {
		pairsQ, pairsA, triQ := map[string]bool{}, map[string]bool{}, map[string]bool{}
		tq, ta := fieldTerms(dc.q, pairsQ, triQ), fieldTerms(dc.a, pairsA, nil)
		for p := range pairsQ {
			ix.pairs[p] = append(ix.pairs[p], docMark{int32(d), 2})
		}
		for p := range pairsA {
			if !pairsQ[p] {
				ix.pairs[p] = append(ix.pairs[p], docMark{int32(d), 1})
			}
		}
		for t := range triQ {
			ix.tris[t] = append(ix.tris[t], int32(d))
		}
		lenQ[d], lenA[d] = float64(len(tq)), float64(len(ta))
		avgQ += lenQ[d]
		avgA += lenA[d]
		tf := map[string]*posting{}
		at := func(t string) *posting {
			p := tf[t]
			if p == nil {
				p = &posting{doc: d}
				tf[t] = p
			}
			return p
		}
		for _, t := range tq {
			at(t).tfQ++
		}
		for _, t := range ta {
			at(t).tfA++
		}
		for t, p := range tf {
			ix.postings[t] = append(ix.postings[t], *p)
		}
	}
	if n > 0 {
		avgQ, avgA = max(avgQ/float64(n), 1), max(avgA/float64(n), 1)
	}
	for d := range docs {
		ix.normQ[d] = 1 - bm25B + bm25B*lenQ[d]/avgQ
		ix.normA[d] = 1 - bm25B + bm25B*lenA[d]/avgA
	}
	N := float64(n)
	for t, ps := range ix.postings {
		df := float64(len(ps))
		ix.idf[t] = math.Log(1 + (N-df+0.5)/(df+0.5))
	}
	ix.unseen = math.Log(1 + (N+0.5)/0.5)
	return ix
}

// addPairs adds the adjacent pairs of ts to set.
func addPairs(set map[string]bool, ts []string) {
	for i := 1; i < len(ts); i++ {
		set[ts[i-1]+ts[i]] = true
	}
}

// addTris adds the runs of three of ts to set.
func addTris(set map[string]bool, ts []string) {
	for i := 2; i < len(ts); i++ {
		set[ts[i-2]+ts[i-1]+ts[i]] = true
	}
}

// triRank is the weight in the rank of the share of the query's runs of three terms found in an
// entry's question field: a phrasing that says the question's words in its order counts more
// than the same characters spread over several phrasings.
const triRank = 0.3

// scored is one document's score and confidence.
type scored struct {
	doc        int
	score      float64
	confidence float64
	rank       float64 // confidence + rankScore × score / the best score: the order of the results
}

// search scores every document sharing a term with the query and returns the best k, best
// first (ties: lower document number first, so results are deterministic).
//
// The confidence is the mean of two shares: of the query's IDF weight that the document
// covers (a term only in the answer counts coverA), and of the query's adjacent term pairs
// found in the document. Terms no document has count in the query's weight, so unrelated
// chit-chat scores low.
func (ix *index) search(query string, k int) []scored {
	return ix.searchPrepared(ix.an.prepare(query, true), k)
}

// searchPrepared is search of a query already read by the analyzer (analyzer.prepare).
func (ix *index) searchPrepared(prepared string, k int) []scored {
	chars, words := ix.an.terms(prepared)
	terms := append(chars, words...)
	if len(terms) == 0 || ix.n == 0 {
		return nil
	}
	score := make([]float64, ix.n)
	covered := make([]float64, ix.n)
	var total float64
	for i, t := range terms {
		if dup(terms[:i], t) {
			continue
		}
		idf, ok := ix.idf[t]
		if !ok {
			total += ix.unseen
			continue
		}
		total += idf
		for _, p := range ix.postings[t] {
			tf := weightQ*p.tfQ/ix.normQ[p.doc] + weightA*p.tfA/ix.normA[p.doc]
			score[p.doc] += idf * tf * (bm25K1 + 1) / (bm25K1 + tf)
			if p.tfQ > 0 {
				covered[p.doc] += idf
			} else {
				covered[p.doc] += idf * coverA
			}
		}
	}
	// The share of the query's adjacent pairs (and runs of three) each document has.
	pc := make([]float64, ix.n)
	npairs := max(len(chars)-1, 0)
	for i := 1; i < len(chars); i++ {
		for _, m := range ix.pairs[chars[i-1]+chars[i]] {
			if m.mark == 2 {
				pc[m.doc]++
			} else {
				pc[m.doc] += coverA
			}
		}
	}
	tc := make([]float64, ix.n)
	ntris := max(len(chars)-2, 0)
	for i := 2; i < len(chars); i++ {
		for _, d := range ix.tris[chars[i-2]+chars[i-1]+chars[i]] {
			tc[d]++
		}
	}
	out := make([]scored, 0, 8)
	for d, s := range score {
		if s == 0 {
			continue
		}
		c := covered[d] / total
		if npairs > 0 {
			c = (1-pairShare)*c + pairShare*pc[d]/float64(npairs)
		}
		var rank float64
		if ntris > 0 {
			rank = triRank * tc[d] / float64(ntris)
		}
		out = append(out, scored{doc: d, score: s, confidence: c, rank: rank})
	}
	var top float64
	for _, o := range out {
		top = max(top, o.score)
	}
	for i := range out {
		out[i].rank += out[i].confidence + rankScore*out[i].score/top
	}
	sortScored(out)
	if len(out) > k {
		out = out[:k]
	}
	return out
}

func dup(seen []string, t string) bool {
	for _, s := range seen {
		if s == t {
			return true
		}
	}
	return false
}

// sortScored orders results by rank, best first (ties: lower document number first, so results
// are deterministic).
func sortScored(out []scored) {
	slices.SortFunc(out, func(a, b scored) int {
		if c := cmp.Compare(b.rank, a.rank); c != 0 {
			return c
		}
		return a.doc - b.doc
	})
}
