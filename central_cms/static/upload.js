// Upload with a progress bar. Without JavaScript the form posts normally.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) { return; }
  var box = form.querySelector(".progress");
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    box.hidden = false;
    bar.value = 0;
    status.textContent = "Uploading…";
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); }
    });
    request.addEventListener("load", function () {
      var answer = {};
      try { answer = JSON.parse(request.responseText); } catch (ignored) { answer = {}; }
      if (request.status === 200 && answer.ok) {
        // The confirmation itself comes with the reloaded page, as a no-JavaScript post would.
        status.textContent = "Uploaded. Reloading…";
        window.location.reload();
      } else {
        box.hidden = true;
        status.textContent = answer.message || "The upload failed. Try again.";
        status.className = "message error";
      }
    });
    request.addEventListener("error", function () {
      box.hidden = true;
      status.textContent = "The connection failed. Try again.";
    });
    request.send(new FormData(form));
  });
}());
