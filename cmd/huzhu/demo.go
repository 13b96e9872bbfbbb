package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// demoCmd is `huzhu demo`: write the synthetic demo into an empty database without serving it.
func demoCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Fill an empty database with the synthetic demo plan (unions, members, 医保 records, paid runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			accounts, err := e.seedDemo(cmd.Context())
			fmt.Fprint(e.stdout, accounts)
			return err
		},
	}
}
