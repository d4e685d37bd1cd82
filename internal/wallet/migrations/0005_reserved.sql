-- Reserved: step 5 of the wallet's schema is another branch's (migrations are numbered
-- without gaps). At the merge, this file gives way to that branch's 0005_*.sql.
SELECT 1;
