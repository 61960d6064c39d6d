// The library's documented EHR launch: FHIR.oauth2.authorize reads iss and launch from the URL,
// discovers the server, and redirects to its authorize endpoint (with PKCE when supported).
FHIR.oauth2.authorize({
  clientId: "fhirclient-reference",
  scope: "launch openid fhirUser patient/Patient.read",
  redirectUri: "index.html",
});
