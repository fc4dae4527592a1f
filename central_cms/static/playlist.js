// Alt+ArrowUp / Alt+ArrowDown in any field of a playlist item presses its Move up /
// Move down button (a plain submit button, so the page works without this script too).
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) { return; }
    var item = event.target.closest && event.target.closest("[data-playlist-item]");
    if (!item) { return; }
    var button = item.querySelector(event.key === "ArrowUp" ? "[data-move=up]" : "[data-move=down]");
    if (!button || button.disabled) { return; }
    event.preventDefault();
    button.click();
  });
})();
