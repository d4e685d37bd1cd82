-- Reserved: step 6 of the wallet's schema is the inbox's (0006_inbox.sql, migrations are
-- numbered without gaps). At the merge, this file gives way to it.
SELECT 1;
