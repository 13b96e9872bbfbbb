package admin

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/importer"
	"huzhu/service/job"
	"huzhu/service/staff"
)

// upload starts an import job for the form's file and sends staff to its page (or, from a
// program, answers 202 with the job).
func (a *Admin) upload(c *fiber.Ctx, st staff.Staff) error {
	if err := a.d.Jobs.May(a.actor(c, st), model.ActImport); err != nil {
		return err
	}
	var kind model.JobKind
	switch model.ImportKind(c.FormValue("kind")) {
	case model.ImportRoster:
		kind = model.JobImportRoster
	case model.ImportMedical:
		kind = model.JobImportMedical
	default:
		return errs.Invalid("kind", "请选择导入类型", "花名册（roster）或医保数据（medical）")
	}
	name, sp, err := a.spoolUpload(c)
	if err != nil {
		return err
	}
	who := a.actor(c, st)
	return a.startJob(c, st, job.Spec{Kind: kind, Subject: name, Input: sp, Need: model.ActImport}, func(ctx context.Context, t *job.Task) (any, error) {
		r, err := sp.Open()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		t.Stage("读取并写入")
		var rep importer.Report
		if kind == model.JobImportRoster {
			rep, err = a.d.Importer.Roster(ctx, name, r, who)
		} else {
			rep, err = a.d.Importer.Medical(ctx, name, r, who)
		}
		if err != nil {
			return nil, err
		}
		return newImportResult(name, rep), nil
	})
}

func (a *Admin) imports(c *fiber.Ctx, st staff.Staff) error {
	return a.render(c, "imports", view{Title: "导入", Nav: "imports", Staff: st, Data: struct{ CanImport bool }{st.Can(staff.Import)}})
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
