export { createDashboard, type DashboardOptions } from "./router.tsx";
import { createDashboard } from "./router.tsx";

/** The dashboard, mounted by the hub at `/` (`app.route("/", dashboard)`). */
export const dashboard = createDashboard();
