package sheet

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
)

type row struct {
	N     int
	Cells []string
}

func readAll(t *testing.T, r io.Reader) ([]string, []row, []string) {
	t.Helper()
	rd, err := Open(r)
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
