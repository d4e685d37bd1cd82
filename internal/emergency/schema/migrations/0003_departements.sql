-- Département boundaries, imported from the official dataset like the communes'.
CREATE TABLE emergency.departements (
	code     text PRIMARY KEY,
	name     text NOT NULL,
	geometry jsonb NOT NULL -- GeoJSON MultiPolygon coordinates
);
