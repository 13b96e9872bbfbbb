package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"huzhu/model"
)

// demoCmd is `huzhu demo`: write the synthetic demo into an empty database without serving it.
func demoCmd(e *env) *cobra.Command {
	var asOf string
	cmd := &cobra.Command{
		Use:   "demo [--as-of YYYY-MM-DD]",
		Short: "Fill an empty database with the synthetic demo plan (unions, members, 医保 records, paid runs)",
		Long: "Fill an empty database with the synthetic demo plan, true on the day it is made: runs whose promised\n" +
			"arrival day has passed are paid, the others in transit or awaiting export. --as-of writes it as it\n" +
			"would have been at noon of an earlier day, e.g. a settlement day (the 21st) to try approving and paying.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			at := time.Now()
			if asOf != "" {
				d, err := time.ParseInLocation(time.DateOnly, asOf, model.Shanghai)
				if err != nil {
					return fmt.Errorf("--as-of %q: not a date (example: 2026-10-21)", asOf)
				}
				if at = d.Add(12 * time.Hour); at.After(time.Now()) {
					return fmt.Errorf("--as-of %s: is in the future; the demo can only be written as of today or earlier", asOf)
				}
			}
			accounts, err := e.seedDemoAsOf(cmd.Context(), at)
			fmt.Fprint(e.stdout, accounts)
			return err
		},
	}
	cmd.Flags().StringVar(&asOf, "as-of", "", "write the demo as it was at noon of this day (default: now)")
	return cmd
}
