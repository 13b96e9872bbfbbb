package sheet

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"huzhu/service/errs"
)

type row struct {
	N     int
	Cells []string
}

func readAll(t *testing.T, r io.Reader) ([]string, []row, []string) {
	t.Helper()
	return readAllLimits(t, r, DefaultLimits())
}

func TestOpenReadsEveryFormat(t *testing.T) {
	const text = "姓名, 身份证号 \n张三,11019919900101001X\n\n 李四 ,110199199202020028\n"
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	x := excelize.NewFile()
	for i, r := range [][]any{{"姓名", "身份证号"}, {"张三", "11019919900101001X"}, {nil, nil}, {"李四", "110199199202020028"}} {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := x.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var xlsx bytes.Buffer
	if err := x.Write(&xlsx); err != nil {
		t.Fatal(err)
	}
	wantRows := []row{{2, []string{"张三", "11019919900101001X"}}, {4, []string{"李四", "110199199202020028"}}}
	for name, in := range map[string][]byte{
		"utf-8":     []byte(text),
		"utf-8 BOM": append([]byte("\ufeff"), text...),
		"gbk":       gbk,
		"xlsx":      xlsx.Bytes(),
	} {
		t.Run(name, func(t *testing.T) {
			h, rows, bad := readAll(t, bytes.NewReader(in))
			if diff := cmp.Diff([]string{"姓名", "身份证号"}, h); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			// XLSX drops the blank row 3 itself; CSV skips it. Row numbers match Excel either way.
			if diff := cmp.Diff(wantRows, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if len(bad) != 0 {
				t.Errorf("bad rows %q", bad)
			}
		})
	}
}

func TestOpenRefusesEmptyAndReportsBadRows(t *testing.T) {
	if _, err := Open(strings.NewReader("")); !errors.Is(err, ErrNoHeader) {
		t.Errorf("Open(empty) err = %v, want ErrNoHeader", err)
	}
	if _, err := Open(strings.NewReader("PK\x03\x04 not really a zip")); err == nil {
		t.Error("Open(broken xlsx) = nil error")
	}
	_, rows, bad := readAll(t, strings.NewReader("a,b\n1,2\n\"open,3\n"))
	if len(rows) != 1 || len(bad) != 1 || !strings.Contains(bad[0], "第 3 行") {
		t.Errorf("rows %v bad %q, want row 2 and an error naming row 3", rows, bad)
	}
}

func TestColumns(t *testing.T) {
	aliases := Aliases(map[string][]string{"id": {"身份证号", "身份证号码"}, "amount": {"金额(元)"}})
	cols := Columns([]string{"*身份证号码", "备注", "金额（元）"}, aliases)
	if diff := cmp.Diff(map[string]int{"id": 0, "amount": 2}, cols); diff != "" {
		t.Errorf("Columns (-want +got):\n%s", diff)
	}
	if got := Cell([]string{"x"}, cols, "amount"); got != "" {
		t.Errorf("Cell of a short row = %q, want empty", got)
	}
}

func zipOf(t *testing.T, parts ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i < len(parts); i += 2 {
		w, err := zw.Create(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, parts[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCheckXLSX drives the pre-excelize scan with small limits: what it counts, what it measures
// and the XML it must not be fooled by.
func TestCheckXLSX(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxXLSXParts, lim.MaxOtherPartBytes, lim.MaxSharedStrings = 3, 1000, 3
	lim.MaxXMLElementBytes, lim.MaxXMLTagBytes, lim.MaxRowCells = 100, 50, 3
	lim.MaxInMemoryBytes, lim.MaxOtherXMLElements = 1500, 5
	const sst, ws = "xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"
	si := func(n int, s string) string { return "<sst>" + strings.Repeat(s, n) + "</sst>" }
	for _, tc := range []struct {
		name  string
		parts []string
		want  string // in the error; "" for none
	}{
		{"shared strings at the limit", []string{sst, si(3, "<si><t>a</t></si>")}, ""},
		{"one shared string too many", []string{sst, si(4, "<si><t>a</t></si>")}, "超过 3 条"},
		{"empty shared strings count", []string{sst, si(4, "<si/>")}, "超过 3 条"},
		{"namespace prefixes count", []string{sst, "<x:sst>" + strings.Repeat("<x:si><x:t>a</x:t></x:si>", 4) + "</x:sst>"}, "超过 3 条"},
		{"a long string in short runs", []string{sst, si(1, "<si>"+strings.Repeat("<r><t>abcdefgh</t></r>", 6)+"</si>")}, "字符串超过"},
		{"a long text", []string{ws, "<sheetData>" + strings.Repeat("a", 101) + "</sheetData>"}, "文本超过"},
		{"CDATA and comments are not elements", []string{sst, si(1, "<si><t><![CDATA[<si><si><si><si>]]></t></si><!-- <si/><si/><si/> -->")}, ""},
		{"a quoted > in an attribute", []string{sst, si(3, `<si a="x>y"><t>a</t></si>`)}, ""},
		{"a giant attribute", []string{ws, `<row spans="` + strings.Repeat("1", 60) + `"/>`}, "标记超过"},
		{"a giant comment", []string{ws, "<!--" + strings.Repeat("-", 60) + "-->"}, "注释超过"},
		{"rows of three cells", []string{ws, strings.Repeat(`<row><c r="A1"/><c><v>1</v></c><c/></row>`, 2)}, ""},
		{"a row of four cells", []string{ws, `<row><c/><c/><c/><c/></row>`}, "超过 3 个单元格"},
		{"a big cell", []string{ws, `<row><c t="inlineStr"><is>` + strings.Repeat("<t>abcdefgh</t>", 8) + `</is></c></row>`}, "单元格超过"},
		{"a big other part", []string{"xl/styles.xml", strings.Repeat(" ", 1001)}, "部件 xl/styles.xml 解压后"},
		{"other parts' elements at the limit", []string{"xl/styles.xml", "<a><b/><c/></a>", "xl/_rels/workbook.xml.rels", "<r/><r/>"}, ""},
		{"other parts' elements beyond the limit", []string{"xl/styles.xml", "<a><b/><c/></a>", "xl/calcChain.xml", "<c/><c/><c/>"}, "超过 5 个元素"},
		{"pictures are not parsed", []string{"xl/media/image1.png", "<" + strings.Repeat("x", 900)}, ""},
		{"parts held in memory together", []string{"xl/media/image1.png", strings.Repeat("x", 900), "xl/media/image2.png", strings.Repeat("x", 900)}, "共超过 1 KB"},
		{"too many parts", []string{"a", "", "b", "", "c", "", "d", ""}, "4 个部件"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkXLSX(zipOf(t, tc.parts...), lim)
			switch e, ok := errs.As(err); {
			case tc.want == "" && err != nil:
				t.Errorf("checkXLSX = %v, want nil", err)
			case tc.want != "" && (!ok || e.Code != "import.limit" || !strings.Contains(e.Message, tc.want)):
				t.Errorf("checkXLSX = %v, want an import.limit error saying %q", err, tc.want)
			}
		})
	}
}

// TestCheckXLSXTrustsNoDeclaredSize: a part that inflates beyond the size its zip header
// declares is refused as unreadable, so the declared sizes bound what excelize is given.
func TestCheckXLSXTrustsNoDeclaredSize(t *testing.T) {
	var body bytes.Buffer
	fw, _ := flate.NewWriter(&body, flate.BestCompression)
	content := "<sst>" + strings.Repeat("<si><t>a</t></si>", 1000) + "</sst>"
	_, _ = io.WriteString(fw, content)
	_ = fw.Close()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/sharedStrings.xml", Method: zip.Deflate, CRC32: crc32.ChecksumIEEE([]byte(content)),
		CompressedSize64: uint64(body.Len()), UncompressedSize64: 100})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(body.Bytes())
	_ = zw.Close()
	if err := checkXLSX(b.Bytes(), DefaultLimits()); err == nil {
		t.Error("checkXLSX(a part larger than declared) = nil")
	}
}

// TestCSVLimits: a cell beyond MaxCellBytes is a row problem and reading goes on; a record
// beyond MaxLineBytes or rows beyond MaxRows stop the file with an import.limit error, every
// later call too.
func TestCSVLimits(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxCellBytes, lim.MaxLineBytes, lim.MaxRows = 10, 8<<10, 3
	_, rows, bad := readAllLimits(t, strings.NewReader("a,b\n1,"+strings.Repeat("x", 11)+"\n2,y\n"), lim)
	if len(rows) != 1 || len(bad) != 1 || !strings.Contains(bad[0], "第 2 行第 2 列超过 10 字节") {
		t.Errorf("long cell: rows %v bad %q, want row 3 and a problem naming row 2 column 2", rows, bad)
	}
	for name, file := range map[string]string{
		"long line":     "a,b\n1," + strings.Repeat("x", 20<<10) + "\n2,y\n",
		"open quote":    "a,b\n1,\"" + strings.Repeat("x\n", 10<<10) + "\n",
		"too many rows": "a,b\n1,x\n2,x\n,\n4,x\n",
		"long header":   strings.Repeat("h", 20<<10) + "\n1\n",
	} {
		t.Run(name, func(t *testing.T) {
			rd, err := OpenLimits(strings.NewReader(file), lim)
			for err == nil {
				_, _, err = rd.Next()
				if e, ok := errs.As(err); ok && e.Code == "import.limit" {
					if _, _, again := rd.Next(); again != err {
						t.Errorf("Next after a broken limit = %v, want the same error", again)
					}
					return
				}
				if errors.Is(err, io.EOF) {
					t.Fatal("read to the end, want an import.limit error")
				}
				err = nil
			}
			if e, ok := errs.As(err); !ok || e.Code != "import.limit" {
				t.Errorf("OpenLimits err = %v, want import.limit", err)
			}
		})
	}
}

func readAllLimits(t *testing.T, r io.Reader, lim Limits) ([]string, []row, []string) {
	t.Helper()
	rd, err := OpenLimits(r, lim)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var rows []row
	var bad []string
	for {
		n, cells, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		rows = append(rows, row{n, cells})
	}
	return rd.Header(), rows, bad
}
