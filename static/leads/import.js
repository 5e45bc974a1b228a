/* Import wizard: the property-name box matters only for columns kept as extra fields. */
(function () {
  "use strict";
  document.querySelectorAll(".mapping select").forEach(function (select) {
    select.addEventListener("change", function () {
      select.parentElement.querySelector(".property-name").hidden = select.value !== "__property__";
    });
  });
})();
