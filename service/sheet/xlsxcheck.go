package sheet

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"huzhu/service/errs"
)

// errNotZip means the bytes are not a zip archive at all.
var errNotZip = errors.New("sheet: not a zip archive")

// checkXLSX decides, before excelize sees the file, that opening it stays within lim: the zip's
// parts by their declared sizes (archive/zip refuses a part that inflates beyond its declared
// size, so the declaration is a bound), then the shared strings and worksheets by a streaming
// scan that counts shared strings and measures every cell, tag and comment. excelize itself
// would hold the one shared string of a 1 GiB "bomb" in memory, or index twenty million empty
// ones, before the first row. The scan inflates each part once, with a 64 KiB buffer.
func checkXLSX(b []byte, lim Limits) error {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return errNotZip
	}
	fix := "请在 Excel 或 WPS 中打开文件，只保留要导入的表格，另存为新的 XLSX 或 CSV 文件后再上传"
	if len(zr.File) > lim.MaxXLSXParts {
		return limitError(fix, "XLSX 文件内部包含 %d 个部件，超过上限 %d 个", len(zr.File), lim.MaxXLSXParts)
	}
	var total, inMemory uint64
	for _, f := range zr.File {
		size := f.UncompressedSize64
		total += size
		part, max := "部件 "+f.Name+" ", lim.MaxOtherPartBytes
		kind := classify(f.Name)
		switch kind {
		case partShared:
			part, max = "共享字符串表", lim.MaxSharedXMLBytes
		case partSheet:
			part, max = "工作表 "+f.Name+" ", lim.MaxSheetXMLBytes
		}
		if kind == partOther || size <= uint64(lim.XMLInMemoryBytes) {
			inMemory += size
		}
		if size > uint64(max) {
			return limitError(fix+"；数据多时请分成几个文件，或另存为 CSV（CSV 可导入的行数多得多）",
				"XLSX 文件的%s解压后有 %s，超过上限 %s", part, mb(clampInt64(size)), mb(max))
		}
		if total > uint64(lim.MaxUnzippedBytes) {
			return limitError(fix, "XLSX 文件解压后超过 %s 的上限", mb(lim.MaxUnzippedBytes))
		}
		if inMemory > uint64(lim.MaxInMemoryBytes) {
			return limitError("请删去文件中的图片、批注和其他工作表后另存为新的 XLSX 文件，或另存为 CSV 后再上传",
				"XLSX 文件中样式、图片等部件解压后共超过 %s 的上限", mb(lim.MaxInMemoryBytes))
		}
	}
	elements := lim.MaxOtherXMLElements // shared by all the parts excelize parses whole
	for _, f := range zr.File {
		name := strings.ToLower(strings.ReplaceAll(f.Name, "\\", "/"))
		var sc xmlScan
		switch kind := classify(f.Name); {
		case kind == partShared:
			sc = xmlScan{elem: "si", maxCount: lim.MaxSharedStrings, what: "共享字符串表"}
		case strings.HasPrefix(name, "xl/worksheets/") && strings.HasSuffix(name, ".xml"):
			sc = xmlScan{elem: "c", what: "工作表"}
		case kind == partOther && (strings.HasSuffix(name, ".xml") || strings.HasSuffix(name, ".rels") || strings.HasSuffix(name, ".vml")):
			sc = xmlScan{elem: anyElement, maxCount: elements, what: "样式等部件"}
		default:
			continue // pictures and other binary parts are only held, never parsed
		}
		if err := sc.scanPart(f, lim); err != nil {
			return err
		}
		if sc.elem == anyElement {
			elements -= sc.count
		}
	}
	return nil
}

// partKind says how excelize holds a part of the zip.
type partKind int

const (
	partOther  partKind = iota // read into memory whole
	partSheet                  // streamed from a temporary file when larger than XMLInMemoryBytes
	partShared                 // the shared strings: likewise
)

// classify mirrors excelize's ReadZipReader, which streams from disk only the shared strings and
// parts named xl/worksheets/sheet*.
func classify(name string) partKind {
	name = strings.ToLower(strings.ReplaceAll(name, "\\", "/"))
	switch {
	case name == "xl/sharedstrings.xml":
		return partShared
	case strings.HasPrefix(name, "xl/worksheets/sheet"):
		return partSheet
	}
	return partOther
}

// anyElement makes an xmlScan count every element.
const anyElement = "*"

func clampInt64(n uint64) int64 {
	if n > 1<<62 {
		return 1 << 62
	}
	return int64(n)
}

// xmlScan walks one XML part byte by byte without building anything: it measures each tag,
// comment and run of text, and each element named elem (a cell or a shared string) from its
// start tag to its end tag, and counts the elem elements when maxCount > 0. It is not a
// validating parser; excelize parses what passes.
type xmlScan struct {
	elem     string // local name of the element measured
	maxCount int    // 0: not counted
	what     string // the part, as staff know it

	r     *bufio.Reader
	off   int64 // bytes read
	lim   Limits
	count int
	start int64 // offset of the open elem's start tag, -1 when none is open
	inRow int   // elem elements in the current <row>
}

func (s *xmlScan) scanPart(f *zip.File, lim Limits) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("sheet: XLSX part %s: %w", f.Name, err)
	}
	defer rc.Close()
	s.r, s.lim, s.start = bufio.NewReaderSize(rc, 64<<10), lim, -1
	if err := s.scan(); err != nil {
		if _, ok := errs.As(err); ok {
			return err
		}
		return fmt.Errorf("sheet: XLSX part %s: %w", f.Name, err)
	}
	return nil
}

const xlsxFix = "请在 Excel 或 WPS 中打开文件，检查并删去过长的单元格，另存为新的 XLSX 或 CSV 文件后再上传"

func (s *xmlScan) tooLong(what string, max int64) error {
	return limitError(xlsxFix, "XLSX 文件的%s中有一个%s超过 %s 的上限", s.what, what, mb(max))
}

func (s *xmlScan) readByte() (byte, error) {
	c, err := s.r.ReadByte()
	if err == nil {
		s.off++
		if s.start >= 0 && s.off-s.start > s.lim.MaxXMLElementBytes {
			if s.elem == "si" {
				return 0, s.tooLong("字符串", s.lim.MaxXMLElementBytes)
			}
			return 0, s.tooLong("单元格", s.lim.MaxXMLElementBytes)
		}
	}
	return c, err
}

// skipPast reads up to and including end, allowing at most max bytes.
func (s *xmlScan) skipPast(end string, max int64, what string) error {
	matched, n := 0, int64(0)
	for matched < len(end) {
		c, err := s.readByte()
		if err != nil {
			return eofIsUnexpected(err)
		}
		if n++; n > max {
			return s.tooLong(what, max)
		}
		switch {
		case c == end[matched]:
			matched++
		case c == end[0]:
			matched = 1
		default:
			matched = 0
		}
	}
	return nil
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (s *xmlScan) scan() error {
	var text int64 // bytes of the current run of character data
	for {
		c, err := s.readByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if c != '<' {
			if text++; text > s.lim.MaxXMLElementBytes {
				return s.tooLong("文本", s.lim.MaxXMLElementBytes)
			}
			continue
		}
		text = 0
		tagStart := s.off - 1
		next, err := s.r.Peek(1)
		if err != nil {
			return eofIsUnexpected(err)
		}
		switch next[0] {
		case '?':
			err = s.skipPast("?>", s.lim.MaxXMLTagBytes, "标记")
		case '!':
			head, _ := s.r.Peek(8)
			switch {
			case bytes.HasPrefix(head, []byte("!--")):
				err = s.skipPast("-->", s.lim.MaxXMLTagBytes, "注释")
			case bytes.HasPrefix(head, []byte("![CDATA[")):
				err = s.skipPast("]]>", s.lim.MaxXMLElementBytes, "文本")
			default:
				err = s.skipPast(">", s.lim.MaxXMLTagBytes, "标记")
			}
		default:
			err = s.tag(tagStart)
		}
		if err != nil {
			return err
		}
	}
}

// tag reads one start or end tag after its '<', honouring quoted attribute values, and tracks
// the measured element.
func (s *xmlScan) tag(tagStart int64) error {
	var (
		name               []byte
		inName, end, empty bool
		quote              byte
		n                  int64
		prev               byte
	)
	inName = true
	for {
		c, err := s.readByte()
		if err != nil {
			return eofIsUnexpected(err)
		}
		if n++; n > s.lim.MaxXMLTagBytes {
			return s.tooLong("标记", s.lim.MaxXMLTagBytes)
		}
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
			inName = false
		case c == '>':
			empty = prev == '/'
			return s.element(name, end, empty, tagStart)
		case inName && c == '/' && n == 1:
			end = true
		case inName && (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/'):
			inName = false
		case inName:
			if c == ':' {
				name = name[:0] // a namespace prefix: keep the local name
			} else if len(name) < 16 {
				name = append(name, c)
			}
		}
		prev = c
	}
}

func (s *xmlScan) element(name []byte, end, empty bool, tagStart int64) error {
	if s.elem == anyElement {
		if end {
			return nil
		}
		if s.count++; s.count > s.maxCount {
			return limitError("请在 Excel 或 WPS 中把文件另存为 CSV 后再上传；或把公式改为数值、清除多余的格式后另存为新的 XLSX 文件",
				"XLSX 文件的样式、公式链等部件共有超过 %d 个元素的上限", s.lim.MaxOtherXMLElements)
		}
		return nil
	}
	if string(name) == "row" {
		s.inRow = 0
		return nil
	}
	if string(name) != s.elem {
		return nil
	}
	if end {
		s.start = -1
		return nil
	}
	if !empty {
		s.start = tagStart
	}
	if s.inRow++; s.elem == "c" && s.inRow > s.lim.MaxRowCells {
		return limitError(xlsxFix, "XLSX 文件的%s中有一行超过 %d 个单元格的上限", s.what, s.lim.MaxRowCells)
	}
	if s.count++; s.maxCount > 0 && s.count > s.maxCount {
		return limitError("请把数据分成几个文件导入，或在 Excel 或 WPS 中另存为 CSV（CSV 可导入的行数多得多）",
			"XLSX 文件的共享字符串表超过 %d 条的上限", s.maxCount)
	}
	return nil
}
