package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"huzhu/model"
	"huzhu/service/importer"
)

// importCmd is `huzhu import roster|medical FILE` and `huzhu import template KIND`.
func importCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "import", Short: "Import the roster or 医保 records from CSV (UTF-8 or GBK) or XLSX"}
	var report string
	for _, k := range []struct {
		kind  model.ImportKind
		short string
	}{
		{model.ImportRoster, "Import unions and members (keyed by ID number; re-importing changes nothing)"},
		{model.ImportMedical, "Import 医保 settlement records (keyed by 结算单号; re-importing changes nothing)"},
	} {
		sub := &cobra.Command{
			Use:   string(k.kind) + " FILE",
			Short: k.short,
			Args:  oneArg,
			RunE: func(cmd *cobra.Command, args []string) error {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				svc, err := e.importer(cmd)
				if err != nil {
					return err
				}
				start := time.Now()
				imp := svc.Roster
				if k.kind == model.ImportMedical {
					imp = svc.Medical
				}
				who, err := e.staffActor(cmd)
				if err != nil {
					return err
				}
				rep, err := imp(cmd.Context(), filepath.Base(args[0]), f, who)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%d 行（%.1f 秒）：新增 %d，更新 %d，未变 %d，有问题 %d\n", rep.Rows, time.Since(start).Seconds(),
					rep.Added, rep.Updated, rep.Same, rep.Bad)
				for i, p := range rep.Problems {
					if i == 20 {
						fmt.Fprintf(e.stdout, "  ……其余 %d 个问题见报告\n", rep.Bad-20)
						break
					}
					fmt.Fprintf(e.stdout, "  第 %d 行 %s：%s\n", p.Row, p.Column, p.Message)
				}
				if report != "" && rep.Bad > 0 {
					if err := os.WriteFile(report, rep.CSV(), 0o600); err != nil {
						return fmt.Errorf("--report %s: %w", report, err)
					}
					fmt.Fprintf(e.stdout, "问题清单已写入 %s\n", report)
				}
				return nil
			},
		}
		sub.Flags().StringVar(&report, "report", "", "write every problem to this CSV file")
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "template roster|medical",
		Short: "Write the XLSX template of an import to standard output",
		Args:  oneArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := importer.Template(model.ImportKind(args[0]))
			if err != nil {
				return err
			}
			_, err = e.stdout.Write(b)
			return err
		},
	})
	return cmd
}

// importer builds the import service over the configured stores.
func (e *env) importer(cmd *cobra.Command) (*importer.Service, error) {
	db, err := e.openDB(cmd.Context())
	if err != nil {
		return nil, err
	}
	cipher, err := e.piiCipher()
	if err != nil {
		return nil, err
	}
	return importer.New(db, cipher, importer.Options{}, time.Now, e.log), nil
}
