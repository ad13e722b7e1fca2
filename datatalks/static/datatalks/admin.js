// Copy-to-clipboard for the admin's short ids: the button carries the full value.
document.addEventListener("click", (event) => {
  const button = event.target.closest(".dt-copy");
  if (!button) return;
  event.preventDefault();
  const done = () => {
    button.classList.add("copied");
    button.title = "Copied";
    setTimeout(() => button.classList.remove("copied"), 1500);
  };
  const value = button.dataset.copy;
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(value).then(done);
    return;
  }
  const field = document.createElement("textarea");
  field.value = value;
  document.body.appendChild(field);
  field.select();
  document.execCommand("copy");
  field.remove();
  done();
});
