// The dashboard's static files (server/dashboard/assets/), compiled into
// dagd by a build step (embed_assets.cmake) so that the binary serves them
// with nothing to install beside it.
#ifndef DAGD_SERVER_DASHBOARD_ASSETS_H_
#define DAGD_SERVER_DASHBOARD_ASSETS_H_

#include "absl/strings/string_view.h"

namespace dagd {

struct DashboardAsset {
  absl::string_view path;  // "/index.html", "/app.js", ...
  absl::string_view content_type;
  absl::string_view body;
};

// Null when no asset has that path.
const DashboardAsset* FindDashboardAsset(absl::string_view path);
// The bytes of every asset together: what a browser loads for a page.
size_t DashboardAssetBytes();

}  // namespace dagd

#endif  // DAGD_SERVER_DASHBOARD_ASSETS_H_
