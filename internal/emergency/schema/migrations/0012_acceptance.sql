-- The operators' acceptance campaigns (recevabilité), in socle's acceptance environment.

-- A client certificate an operator's tester registered, and what socle found in it.
CREATE TABLE emergency.acceptance_certs (
	fingerprint   text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
	operator_id   text NOT NULL,
	pem           text NOT NULL,
	subject       text NOT NULL,
	key           text NOT NULL,
	not_before    timestamptz NOT NULL,
	not_after     timestamptz NOT NULL,
	networks      text[] NOT NULL,
	checks        jsonb NOT NULL,
	acceptable    boolean NOT NULL,
	signed_here   boolean NOT NULL, -- from a request socle's acceptance CA signed
	registered_by text NOT NULL,
	registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX acceptance_certs_operator ON emergency.acceptance_certs (operator_id, registered_at DESC);

-- The operator's test location server, and the test numbers PULL cases ask it about.
CREATE TABLE emergency.acceptance_endpoints (
	operator_id    text PRIMARY KEY,
	held_url       text NOT NULL CHECK (held_url ~ '^https://'),
	mobile_number  text NOT NULL,
	fixed_number   text NOT NULL,
	unknown_number text NOT NULL,
	updated_by     text NOT NULL,
	updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A campaign: one operator, one certificate, every case. It is running until finished.
CREATE TABLE emergency.acceptance_campaigns (
	id          bigserial PRIMARY KEY,
	operator_id text NOT NULL,
	fingerprint text NOT NULL REFERENCES emergency.acceptance_certs (fingerprint),
	started_by  text NOT NULL,
	started_at  timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz,
	passed      boolean -- set when finished: every case passed
);
-- One running campaign per operator: the messages it pushes belong to that one.
CREATE UNIQUE INDEX acceptance_campaigns_running ON emergency.acceptance_campaigns (operator_id) WHERE finished_at IS NULL;

-- Each case of a campaign, and the exchange that decided it (test numbers only: an
-- acceptance environment receives no real caller).
CREATE TABLE emergency.acceptance_results (
	campaign_id bigint NOT NULL REFERENCES emergency.acceptance_campaigns (id) ON DELETE CASCADE,
	case_id     text NOT NULL,
	state       text NOT NULL CHECK (state IN ('waiting', 'passed', 'failed')),
	reason      text NOT NULL DEFAULT '',
	exchange    text NOT NULL DEFAULT '',
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (campaign_id, case_id)
);
