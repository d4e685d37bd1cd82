-- The wallet's citizens: which account stands for which person of the national register.
-- In the demo, built-in accounts; with an OpenID provider, the national number its token
-- carries.
CREATE TABLE wallet.citizens (
    user_id    bigint PRIMARY KEY,          -- identity.users
    nrn        text NOT NULL UNIQUE CHECK (nrn ~ '^[0-9]{11}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
