// Package sheet reads the tables staff and banks send: CSV in UTF-8 (with or without BOM) or GBK
// (what Excel in China writes), and XLSX (the first sheet). Rows come one at a time, so a CSV of
// a million rows is never held in memory; an XLSX file is held compressed while its rows stream.
// Every file is read within Limits: one that claims or holds more is refused before it can take
// the memory or time it asks for.
//
// It also writes every table the system gives out (Writer, SetRow), safe to open in Excel or WPS:
// see write.go.
package sheet

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"huzhu/service/errs"
)

// Reader yields the rows of one table. Row numbers are 1-based as staff see them in Excel: the
// header is row 1.
type Reader struct {
	header []string
	next   func() ([]string, int, error) // cells and their row number, 0 when the source has none
	close  func() error
	row    int
	lim    Limits
	rows   int   // records read after the header, empty ones included
	err    error // a broken limit: the file cannot be read further
}

// ErrNoHeader means the file has no first row to read column names from.
var ErrNoHeader = errors.New("sheet: the file is empty or has no header row")

// xlsxMagic starts every XLSX file (a zip archive).
const xlsxMagic = "PK\x03\x04"

// Open is OpenLimits with DefaultLimits.
func Open(r io.Reader) (*Reader, error) { return OpenLimits(r, DefaultLimits()) }

// OpenLimits reads the header and returns a Reader over the rest. The format is detected from
// the content, not the name. Header cells are trimmed; an empty file is ErrNoHeader. An XLSX file
// beyond lim is refused here with an Invalid error (code import.limit) that names the limit.
func OpenLimits(r io.Reader, lim Limits) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, perr := br.Peek(64 << 10)
	if perr != nil && !errors.Is(perr, io.EOF) && !errors.Is(perr, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("sheet: read: %w", perr)
	}
	var (
		rd  *Reader
		err error
	)
	if bytes.HasPrefix(head, []byte(xlsxMagic)) {
		rd, err = openXLSX(br, lim)
	} else {
		rd = openCSV(br, head, lim)
	}
	if err != nil {
		return nil, err
	}
	rd.lim = lim
	h, _, err := rd.next()
	if errors.Is(err, io.EOF) {
		_ = rd.Close()
		return nil, ErrNoHeader
	}
	if _, ok := errs.As(err); ok {
		_ = rd.Close()
		return nil, err
	}
	if err != nil {
		_ = rd.Close()
		return nil, fmt.Errorf("sheet: header: %w", err)
	}
	for i := range h {
		h[i] = strings.TrimSpace(strings.TrimPrefix(h[i], "\ufeff"))
	}
	rd.header, rd.row = h, 1
	return rd, nil
}

// Header returns the column names of row 1.
func (r *Reader) Header() []string { return r.header }

// Next returns the next non-empty row and its number, or io.EOF. Cells are trimmed. A row that
// cannot be parsed (a CSV quote left open…) or has a cell longer than Limits.MaxCellBytes is
// returned as an error that names the row; the caller may report it and call Next again. A
// broken limit of the whole file (more than Limits.MaxRows rows, a CSV record longer than
// Limits.MaxLineBytes) is an Invalid error (code import.limit, see errs.As) that every later
// call returns too: the caller stops and reports it.
func (r *Reader) Next() (int, []string, error) {
	for {
		if r.err != nil {
			return r.row, nil, r.err
		}
		cells, line, err := r.next()
		if errors.Is(err, io.EOF) {
			return 0, nil, io.EOF
		}
		r.row++
		if line > 0 {
			r.row = line
		}
		if e, ok := errs.As(err); ok {
			c := *e
			c.Message = fmt.Sprintf("读到第 %d 行时停止：%s", r.row, e.Message)
			r.err = &c
			return r.row, nil, r.err
		}
		if r.rows++; r.rows > r.lim.MaxRows {
			r.err = limitError(fmt.Sprintf("请把文件分成几个，每个不超过 %d 行，分别导入；已导入的行再导入一次不会重复", r.lim.MaxRows),
				"文件超过 %d 行数据的上限（读到第 %d 行时停止）", r.lim.MaxRows, r.row)
			return r.row, nil, r.err
		}
		if err != nil {
			return r.row, nil, fmt.Errorf("第 %d 行无法读取：%w", r.row, err)
		}
		empty := true
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
			empty = empty && cells[i] == ""
			if len(cells[i]) > r.lim.MaxCellBytes {
				return r.row, nil, fmt.Errorf("第 %d 行第 %d 列超过 %s 的上限，请删去多余的内容", r.row, i+1, mb(int64(r.lim.MaxCellBytes)))
			}
		}
		if !empty {
			return r.row, cells, nil
		}
	}
}

// Close releases the file.
func (r *Reader) Close() error {
	if r.close == nil {
		return nil
	}
	return r.close()
}

func openCSV(br *bufio.Reader, head []byte, lim Limits) *Reader {
	var src io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte("\ufeff")):
		_, _ = br.Discard(3)
	case !validUTF8Prefix(head):
		src = transform.NewReader(br, simplifiedchinese.GBK.NewDecoder())
	}
	lr := &recordLimiter{r: src, max: lim.MaxLineBytes}
	cr := csv.NewReader(lr)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	return &Reader{next: func() ([]string, int, error) {
		lr.n = 0
		rec, err := cr.Read()
		if lr.err != nil {
			return nil, 0, lr.err
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.StartLine, pe.Err
		}
		if err != nil {
			return nil, 0, err
		}
		line, _ := cr.FieldPos(0) // csv skips blank lines: count rows as the file does
		return rec, line, nil
	}}
}

// validUTF8Prefix is utf8.Valid that forgives a rune cut off at the end of the peeked bytes.
func validUTF8Prefix(b []byte) bool {
	for i := 0; i < 3 && len(b) > 0 && !utf8.Valid(b); i++ {
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

// recordLimiter fails a read once more than max bytes are read for one CSV record: csv.Reader
// would otherwise gather a record without end (one line of a gigabyte, or an open quote that
// swallows the rest of the file). csv.Reader reads ahead up to 4 KiB, so a record is refused a
// little after max bytes.
type recordLimiter struct {
	r   io.Reader
	max int64
	n   int64 // bytes read since the last record
	err error
}

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.n > l.max {
		l.err = limitError("请检查这一行：可能少了一个右引号，或粘贴了大段内容；改正后另存为 CSV 再上传",
			"文件中有一行超过 %s 的上限", mb(l.max))
		return 0, l.err
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

// openXLSX reads the file into memory (up to Limits.MaxXLSXBytes), checks it against lim and
// opens its first sheet with excelize's own size limits set from lim.
func openXLSX(r io.Reader, lim Limits) (*Reader, error) {
	b, err := io.ReadAll(io.LimitReader(r, lim.MaxXLSXBytes+1))
	if err != nil {
		return nil, fmt.Errorf("sheet: read: %w", err)
	}
	if int64(len(b)) > lim.MaxXLSXBytes {
		return nil, limitError("请删去不需要导入的工作表、图片和格式后另存；数据多时请分成几个文件，或另存为 CSV（CSV 可以大得多）",
			"XLSX 文件超过 %s 的上限", mb(lim.MaxXLSXBytes))
	}
	if err := checkXLSX(b, lim); err != nil {
		if _, ok := errs.As(err); ok {
			return nil, err
		}
		return nil, fmt.Errorf("sheet: not a readable XLSX file: %w", err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(b), excelize.Options{
		UnzipSizeLimit: lim.MaxUnzippedBytes, UnzipXMLSizeLimit: min(lim.XMLInMemoryBytes, lim.MaxUnzippedBytes)})
	if err != nil {
		return nil, fmt.Errorf("sheet: not a readable XLSX file: %w", err)
	}
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		_ = f.Close()
		return nil, ErrNoHeader
	}
	rows, err := f.Rows(sheets[0])
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sheet: XLSX sheet %s: %w", sheets[0], err)
	}
	return &Reader{
		next: func() ([]string, int, error) {
			if !rows.Next() {
				if err := rows.Error(); err != nil {
					return nil, 0, err
				}
				return nil, 0, io.EOF
			}
			cells, err := rows.Columns()
			return cells, 0, err
		},
		close: func() error {
			_ = rows.Close()
			return f.Close()
		},
	}, nil
}

// Columns maps a file's header to the caller's field keys through aliases (each alias a header
// name as staff write it). It returns the column index of every key found.
func Columns(header []string, aliases map[string]string) map[string]int {
	out := map[string]int{}
	for i, h := range header {
		if key, ok := aliases[normalize(h)]; ok {
			if _, dup := out[key]; !dup {
				out[key] = i
			}
		}
	}
	return out
}

// normalize folds the ways staff write one header: full-width brackets, spaces, asterisks marking
// required columns.
func normalize(h string) string {
	h = strings.NewReplacer("（", "(", "）", ")", " ", "", "\u3000", "", "*", "").Replace(strings.TrimSpace(h))
	return strings.ToLower(h)
}

// Cell returns the cell of key in cells, or "" when the column is absent or the row is short.
func Cell(cells []string, cols map[string]int, key string) string {
	if i, ok := cols[key]; ok && i < len(cells) {
		return cells[i]
	}
	return ""
}

// Aliases builds an alias map from key → header names, normalizing every name.
func Aliases(names map[string][]string) map[string]string {
	out := map[string]string{}
	for key, ns := range names {
		out[normalize(key)] = key
		for _, n := range ns {
			out[normalize(n)] = key
		}
	}
	return out
}
