document.addEventListener("DOMContentLoaded", () => {
  const button = document.querySelector("#toggle");
  const panel = document.getElementById("panel");
  button.addEventListener("click", () => {
    panel.classList.toggle("hidden");
  });
});
