-- The large-file transfers (Melanissimo): their tables come with the transfers' code.
SELECT 1;
