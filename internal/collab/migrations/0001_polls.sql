-- The meeting polls (Pégase): their tables come with the polls' code.
SELECT 1;
