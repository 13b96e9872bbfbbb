package admin

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/importer"
	"huzhu/service/staff"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

func (a *Admin) upload(c *fiber.Ctx, st staff.Staff) error {
	name, r, err := formFile(c)
	if err != nil {
		return err
	}
	defer r.Close()
	var rep importer.Report
	switch model.ImportKind(c.FormValue("kind")) {
	case model.ImportRoster:
		rep, err = a.d.Importer.Roster(c.UserContext(), name, r, st.Username)
	case model.ImportMedical:
		rep, err = a.d.Importer.Medical(c.UserContext(), name, r, st.Username)
	default:
		return errs.Invalid("kind", "请选择导入类型", "花名册或医保数据")
	}
	if err != nil {
		return err
	}
	d := importsData{Report: &rep, Name: name, CanImport: true}
	if len(rep.Problems) > 0 {
		// The problems file is handed over inline: nothing about the upload stays on the server.
		d.ProblemsCSV = template.URL("data:text/csv;charset=utf-8;base64," + base64.StdEncoding.EncodeToString(rep.CSV()))
	}
	return a.render(c, "imports", view{Title: "导入", Nav: "imports", Staff: st, Data: d})
}

type importsData struct {
	Report      *importer.Report
	Name        string
	CanImport   bool
	ProblemsCSV template.URL // a data: URL of Report.CSV()
}

func (a *Admin) imports(c *fiber.Ctx, st staff.Staff) error {
	return a.render(c, "imports", view{Title: "导入", Nav: "imports", Staff: st, Data: importsData{CanImport: st.Can(staff.Import)}})
}

func (a *Admin) template(c *fiber.Ctx, st staff.Staff) error {
	kind := model.ImportKind(c.Params("kind"))
	if kind != model.ImportRoster && kind != model.ImportMedical {
		return errs.NotFound("import.no_template", "没有这种模板")
	}
	b, err := importer.Template(kind)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-template.xlsx"`, kind))
	c.Type("xlsx")
	return c.Send(b)
}

func formFile(c *fiber.Ctx) (string, io.ReadCloser, error) {
	fh, err := c.FormFile("file")
	if err != nil {
		return "", nil, errs.Invalid("file", "请选择要上传的文件", "支持 XLSX 或 CSV")
	}
	f, err := fh.Open()
	if err != nil {
		return "", nil, fmt.Errorf("open upload: %w", err)
	}
	return strings.Clone(fh.Filename), f, nil
}
