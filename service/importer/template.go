package importer

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/xuri/excelize/v2"

	"huzhu/model"
	"huzhu/service/sheet"
)

// Template returns the XLSX template of an import kind: the columns in order with one example
// row (synthetic numbers), and a second sheet 填写说明 saying which columns are required and how
// to fill each. Cells go through sheet.SetRow, like every table the system writes. It returns an
// error for a kind that has no template.
func Template(kind model.ImportKind) ([]byte, error) {
	var (
		spec  []column
		title string
	)
	switch kind {
	case model.ImportRoster:
		spec, title = rosterSpec(), "花名册"
	case model.ImportMedical:
		spec, title = medicalSpec(), "医保结算记录"
	default:
		return nil, fmt.Errorf("no template for import kind %q (want roster or medical)", kind)
	}
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", title); err != nil {
		return nil, err
	}
	header, example := make([]sheet.Value, len(spec)), make([]sheet.Value, len(spec))
	for i, c := range spec {
		header[i], example[i] = sheet.Text(c.label), sheet.Text(c.example)
	}
	if err := sheet.SetRow(f, title, 1, header); err != nil {
		return nil, err
	}
	if err := sheet.SetRow(f, title, 2, example); err != nil {
		return nil, err
	}
	// Text format for every column, so that Excel keeps ID and card numbers exact.
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49})
	if err != nil {
		return nil, err
	}
	last, _ := excelize.ColumnNumberToName(len(spec))
	if err := f.SetColStyle(title, "A:"+last, text); err != nil {
		return nil, err
	}
	if err := f.SetColWidth(title, "A", last, 18); err != nil {
		return nil, err
	}
	const help = "填写说明"
	if _, err := f.NewSheet(help); err != nil {
		return nil, err
	}
	if err := sheet.SetRow(f, help, 1, sheet.Texts("列名", "是否必填", "说明")); err != nil {
		return nil, err
	}
	for i, c := range spec {
		req := "选填"
		if c.required {
			req = "必填"
		}
		note := c.note
		if len(c.aliases) > 0 {
			if note != "" {
				note += "；"
			}
			note += "也可以写作：" + strings.Join(c.aliases, "、")
		}
		if err := sheet.SetRow(f, help, i+2, sheet.Texts(c.label, req, note)); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
