package main

import (
	"io"
	"strings"

	"github.com/mattn/go-runewidth"
)

// table prints aligned columns for a terminal. text/tabwriter counts runes, so a column of 汉字
// (two cells wide each) pushed every later column out of line; this pads by display width.
type table struct {
	rows [][]string
}

// row adds one line of cells.
func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// write prints the rows, each column as wide as its widest cell plus two spaces; the last
// column is not padded.
func (t *table) write(w io.Writer) error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], runewidth.StringWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range t.rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-runewidth.StringWidth(c)+2))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
