// The library's documented flow after the redirect: FHIR.oauth2.ready() exchanges the code, then
// the client reads the patient in context; the name is painted as text.
FHIR.oauth2.ready()
  .then(function (client) { return client.request("Patient/" + client.patient.id); })
  .then(function (patient) {
    var n = (patient.name && patient.name[0]) || {};
    var text = n.text || [].concat(n.prefix || [], n.given || [], n.family ? [n.family] : [], n.suffix || []).join(" ");
    document.getElementById("patient-name").textContent = text;
    document.getElementById("status").textContent = "";
    requestAnimationFrame(function () { performance.mark("patient-name-painted"); });
  })
  .catch(function (e) { document.getElementById("status").textContent = String(e); });
