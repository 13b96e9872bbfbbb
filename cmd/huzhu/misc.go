package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"huzhu/model"
)

func migrateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the database schema to the newest version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := e.openDB(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "schema is at %s\n", model.SchemaVersion())
			return nil
		},
	}
}

func configCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration with secrets masked",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprint(e.stdout, e.cfg.String())
			return nil
		},
	}
}

func versionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and schema version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(e.stdout, "huzhu %s (schema %s)\n", version, model.SchemaVersion())
			return nil
		},
	}
}
