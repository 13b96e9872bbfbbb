package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"huzhu/service/rulebook"
)

// faqCmd looks after the changes staff saved to the bot's knowledge base from the command line,
// for when serve cannot start because a release made one of them invalid.
func faqCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "faq", Short: "The bot's knowledge base: the entries staff changed in the console"}
	cmd.AddCommand(&cobra.Command{
		Use:   "edits",
		Short: "List the entries staff changed, and whether the knowledge base builds with them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := e.openDB(cmd.Context())
			if err != nil {
				return err
			}
			saved, err := rulebook.SavedEntries(cmd.Context(), db)
			if err != nil {
				return err
			}
			for _, s := range saved {
				fmt.Fprintf(e.stdout, "%s\tchanged by %s at %s\n", s.ID, s.UpdatedBy, s.UpdatedAt.Format(time.DateTime))
			}
			if len(saved) == 0 {
				fmt.Fprintln(e.stdout, "no entry was changed in the console")
			}
			if _, err := e.rulebook(cmd.Context(), false); err != nil {
				fmt.Fprintf(e.stdout, "the knowledge base does not build with these changes; fix them in the console or drop one with `huzhu faq revert <id>`:\n%v\n", err)
				return nil
			}
			fmt.Fprintln(e.stdout, "the knowledge base builds with these changes")
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "revert <id>",
		Short: "Drop staff's change of entry <id>: back to the shipped text (an added entry is removed); audited",
		Args:  oneArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := e.openDB(cmd.Context())
			if err != nil {
				return err
			}
			who, err := e.staffActor(cmd)
			if err != nil {
				return err
			}
			if err := rulebook.DropSaved(cmd.Context(), db, args[0], who, time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "dropped the saved change of %s; running servers pick it up within a minute\n", args[0])
			return nil
		},
	})
	return cmd
}
